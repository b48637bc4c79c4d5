"""The two-stage coarse-to-fine generator of Ma et al. (IJCAI 2019).

Stage 1: encoder E1 + decoder G built of region-wise convolutions (Eq. 1).
Stage 2: encoder E2 + decoder D of standard convolutions refine the composite
``Ic1 = Îg + Ip1 ⊙ (1 − M)``.

Inside the network a mask is 1 for existing pixels and 0 for missing ones;
images are float tensors in [-1, 1].
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .netconfig import CONFIGS, NetConfig, get_config, parse_scales  # noqa: F401 (re-exported)


class _ELUFunction(torch.autograd.Function):
    """ELU (alpha 1) as relu(x) + exp(min(x, 0)) - 1: the same function, but
    torch's CPU ELU goes through a scalar expm1 that is ~4x slower than
    vectorised exp, and ELU layers then cost as much as the convolutions."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(x) + torch.exp(torch.clamp(x, max=0)) - 1
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return grad * torch.where(out > 0, 1.0, out + 1)


class FastELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ELUFunction.apply(x)


def _pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    if pad == 0:
        return x
    mode = "reflect" if min(x.shape[-2:]) > pad else "replicate"
    return F.pad(x, (pad, pad, pad, pad), mode=mode)


class ConvBlock(nn.Module):
    """Reflect-padded convolution followed by ELU (or nothing, for output layers)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1,
                 dilation: int = 1, act: bool = True):
        super().__init__()
        self.pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, dilation=dilation)
        self.act = FastELU() if act else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.act(self.conv(_pad(x, self.pad)))


class RegionConv2d(nn.Module):
    """Region-wise convolution (Eq. 1): filters (W, b) where the mask is 1
    (existing) and (Ŵ, b̂) where it is 0 (missing); the mask is resized
    (nearest) to the output's size. Followed by ELU unless ``act`` is False."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, dilation: int = 1, act: bool = True):
        super().__init__()
        self.pad = dilation * (kernel - 1) // 2
        self.dilation = dilation
        self.known = nn.Conv2d(cin, cout, kernel, dilation=dilation)
        self.missing = nn.Conv2d(cin, cout, kernel, dilation=dilation)
        self.act = FastELU() if act else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            raise ValueError("RegionConv2d needs the mask")
        # One convolution call with both filter banks stacked is faster than two.
        weight = torch.cat([self.known.weight, self.missing.weight])
        bias = torch.cat([self.known.bias, self.missing.bias])
        y = F.conv2d(_pad(x, self.pad), weight, bias, dilation=self.dilation)
        y_known, y_missing = y.chunk(2, dim=1)
        m = F.interpolate(mask.to(y.dtype), size=y.shape[-2:], mode="nearest")
        return self.act(torch.where(m > 0.5, y_known, y_missing))


class Encoder(nn.Module):
    """5x5 conv, two stride-2 downsamplings to 1/4, plain then dilated convs.
    Returns the features at full, 1/2 and 1/4 resolution (for skip links)."""

    def __init__(self, cfg: NetConfig, cin: int):
        super().__init__()
        c = cfg.width
        self.at_full = ConvBlock(cin, c, kernel=5)
        self.at_half = nn.Sequential(ConvBlock(c, 2 * c, stride=2), ConvBlock(2 * c, 2 * c))
        quarter = [ConvBlock(2 * c, 4 * c, stride=2)]
        quarter += [ConvBlock(4 * c, 4 * c) for _ in range(cfg.depth)]
        quarter += [ConvBlock(4 * c, 4 * c, dilation=d) for d in cfg.dilations]
        self.at_quarter = nn.Sequential(*quarter)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f_full = self.at_full(x)
        f_half = self.at_half(f_full)
        return f_full, f_half, self.at_quarter(f_half)


class Decoder(nn.Module):
    """Convs at 1/4, then twice (nearest x2 upsampling, concat skip link, convs)
    and a 3-channel output layer. ``block`` is ConvBlock or RegionConv2d."""

    def __init__(self, cfg: NetConfig, block: type[nn.Module]):
        super().__init__()
        c, h, f = cfg.width, cfg.half_res_width, cfg.full_res_width
        self.at_quarter = nn.ModuleList([block(4 * c, 4 * c) for _ in range(cfg.decoder_depth)])
        self.at_half = nn.ModuleList([block(4 * c + 2 * c, h), block(h, h)])
        self.at_full = nn.ModuleList([block(h + c, f), block(f, f // 2)])
        self.out = block(f // 2, 3, act=False)

    @staticmethod
    def _run(layers: nn.ModuleList, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            x = layer(x, mask)
        return x

    def forward(self, feats: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:
        f_full, f_half, x = feats
        x = self._run(self.at_quarter, x, mask)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self._run(self.at_half, torch.cat([x, f_half], dim=1), mask)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self._run(self.at_full, torch.cat([x, f_full], dim=1), mask)
        return self.out(x, mask)

    def zero_output(self) -> None:
        for p in self.out.parameters():
            nn.init.zeros_(p)


class StageOutputs(NamedTuple):
    coarse: torch.Tensor  # Ip1: stage-1 prediction over the whole image
    refined: torch.Tensor  # Ip2: stage-2 prediction over the whole image
    coarse_composite: torch.Tensor  # Ic1 = Îg + Ip1 ⊙ (1 − M)
    refined_composite: torch.Tensor  # Ic2 = Îg + Ip2 ⊙ (1 − M)


def composite(image: torch.Tensor, prediction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Existing pixels from ``image``, missing ones from ``prediction``."""
    return image * mask + prediction * (1 - mask)


class InpaintNet(nn.Module):
    """E1 + G (region-wise) then E2 + D; see the module docstring."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.e1 = Encoder(cfg, cin=4)
        self.g = Decoder(cfg, RegionConv2d)
        self.e2 = Encoder(cfg, cin=4)
        self.d = Decoder(cfg, ConvBlock)
        if cfg.residual:
            self.g.zero_output()
            self.d.zero_output()

    def forward(self, image: torch.Tensor, mask: torch.Tensor,
                prefill: torch.Tensor | None = None) -> StageOutputs:
        """image (B,3,H,W) in [-1,1]; mask (B,1,H,W), 1 = existing; prefill
        (B,3,H,W) in [-1,1], the classical fill of the hole when the config
        uses one (zeros otherwise). Any H, W: padded internally."""
        h, w = image.shape[-2:]
        image = image * mask  # the network never sees missing pixels
        if self.cfg.prefill != "zero":
            if prefill is None:
                raise ValueError(f"config {self.cfg.name!r} needs a {self.cfg.prefill} prefill")
            start = composite(image, prefill, mask)
        else:
            start = image
        start_p, mask_p = self._pad_to_stride(start, mask)

        out1 = self.g(self.e1(torch.cat([start_p, mask_p], 1)), mask_p)
        if self.cfg.residual:
            out1 = out1 + start_p
        out1 = out1.clamp(-1, 1)
        ic1 = composite(start_p, out1, mask_p)

        out2 = self.d(self.e2(torch.cat([ic1, mask_p], 1)), mask_p)
        if self.cfg.residual:
            out2 = out2 + ic1
        out2 = out2.clamp(-1, 1)

        out1, out2 = out1[..., :h, :w], out2[..., :h, :w]
        return StageOutputs(out1, out2, composite(image, out1, mask), composite(image, out2, mask))

    def _pad_to_stride(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad bottom/right to a multiple of the stride and at least min_size;
        the padded border counts as existing context."""
        h, w = x.shape[-2:]
        s, lo = self.cfg.stride, self.cfg.min_size
        ph = max(-(-h // s) * s, lo) - h
        pw = max(-(-w // s) * s, lo) - w
        if ph == 0 and pw == 0:
            return x, mask
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
        mask = F.pad(mask, (0, pw, 0, ph), value=1.0)
        return x, mask


def count_flops(cfg: NetConfig, size: int = 256) -> int:
    """FLOPs of one forward pass at size x size (torch.utils.flop_counter:
    2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    net = InpaintNet(cfg).eval()
    image = torch.zeros(1, 3, size, size)
    mask = torch.ones(1, 1, size, size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(image, mask, prefill=image)
    return counter.get_total_flops()
