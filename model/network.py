"""The two-stage coarse-to-fine generator of Ma et al. (IJCAI 2019).

Stage 1: encoder E1 + decoder G built of region-wise convolutions (Eq. 1).
Stage 2: encoder E2 + decoder D of standard convolutions refine the composite
``Ic1 = Îg + Ip1 ⊙ (1 − M)``.

Inside the network a mask is 1 for existing pixels and 0 for missing ones;
images are float tensors in [-1, 1].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild a network; stored in every checkpoint.

    The field defaults are the paper's plan (``NetConfig() == NetConfig.paper()``);
    ``NetConfig.bundled()`` is the lighter plan the bundled weights use (named
    "default", as in ``--config default``)."""

    name: str = "paper"
    width: int = 32  # base channels c: the encoders use c, 2c, 4c
    depth: int = 2  # plain 3x3 convs at 1/4 resolution before the dilated ones
    dilations: tuple[int, ...] = (2, 4, 8, 16)
    decoder_depth: int = 2  # convs at 1/4 resolution at the start of each decoder
    half_res_width: int = 128  # decoder channels at 1/2 resolution
    full_res_width: int = 64  # decoder channels at full resolution
    # What the hole holds on input: "zero" (the paper) or "telea" (a classical fill).
    prefill: str = "zero"
    # True: each stage outputs prefill + a zero-initialised correction, so an
    # untrained network reproduces the prefill and training can only improve it.
    residual: bool = False
    # The resolution inference runs each crop at (the longest side); the trainer
    # records its crop size here, the bundled file says 512 (trained at 256).
    run_size: int = 256
    # Inference: fill each crop at these fractions of the run resolution and
    # average the fills (a multi-scale ensemble; the coarser passes see more
    # context per pixel). (1.0,) is a single pass.
    run_scales: tuple[float, ...] = (1.0,)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NetConfig":
        """The config a checkpoint describes, checked (``ConfigError`` names
        the first bad value) before anything is built from it."""
        if not isinstance(data, dict):
            raise ConfigError("the network description is not a table of values")
        known = {f.name for f in fields(cls)}
        if "train_size" in data and "run_size" not in data:  # checkpoints written before the rename
            data = {**data, "run_size": data["train_size"]}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("dilations", "run_scales"):
            if name in values:
                if not isinstance(values[name], (list, tuple)):
                    raise ConfigError(f"{name} must be a list, got {values[name]!r}")
                values[name] = tuple(values[name])
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ConfigError unless every field has its type and a sane range,
        and the network fits in memory (a damaged or hostile checkpoint must
        be refused in a line, not build a 30 GB network or run for minutes)."""
        from .prefill import PREFILLS

        def integer(name: str, low: int, high: int, value=None) -> None:
            value = getattr(self, name) if value is None else value
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")

        if not isinstance(self.name, str):
            raise ConfigError(f"name must be text, got {self.name!r}")
        for name, high in (("width", LIMITS["width"]), ("depth", 16), ("decoder_depth", 16),
                           ("half_res_width", LIMITS["decoder_width"]), ("full_res_width", LIMITS["decoder_width"])):
            integer(name, 0 if name.endswith("depth") else 1, high)
        if not 1 <= len(self.dilations) <= 16:
            raise ConfigError(f"dilations must list 1 to 16 values, got {len(self.dilations)}")
        for d in self.dilations:
            integer("each of dilations", 1, LIMITS["dilation"], d)
        if self.prefill not in PREFILLS:
            raise ConfigError(f"prefill must be one of {', '.join(PREFILLS)}, got {self.prefill!r}")
        if not isinstance(self.residual, bool):
            raise ConfigError(f"residual must be true or false, got {self.residual!r}")
        integer("run_size", 16, LIMITS["run_size"])
        if not 1 <= len(self.run_scales) <= 8 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in self.run_scales):
            raise ConfigError(f"run_scales must be 1 to 8 fractions in (0, 1], got {list(self.run_scales)!r}")
        gib = self.memory_estimate() / 2 ** 30
        if gib > LIMITS["memory_gib"]:
            raise ConfigError(f"this network would need about {gib:.0f} GiB to run a {self.run_size} px crop "
                              f"(limit {LIMITS['memory_gib']} GiB)")

    def memory_estimate(self) -> int:
        """Bytes to run one crop at ``run_size``, roughly: the weights (3x3
        convolutions, two sets in a region-wise layer) and the largest
        activations alive at once, float32. Good to a small factor, which is
        what refusing a absurd plan needs."""
        c, q = self.width, (self.run_size / self.stride) ** 2
        weights = 9 * (2 * (3 * c + c * 2 * c + 2 * c * 4 * c + 16 * c * c * (self.depth + len(self.dilations)))
                       + 2 * 4 * c * self.half_res_width + 2 * self.half_res_width * self.full_res_width)
        activations = 8 * max(4 * c * q, self.half_res_width * 4 * q, self.full_res_width * 16 * q)
        return int(4 * (weights + activations))

    @classmethod
    def paper(cls) -> "NetConfig":
        """The paper's plan: base width 32, zero-filled hole."""
        return CONFIGS["paper"]

    @classmethod
    def bundled(cls) -> "NetConfig":
        """The plan of the bundled weights ("default"): width 24, Telea prefill, residual outputs."""
        return CONFIGS["default"]

    @property
    def stride(self) -> int:
        return 4

    @property
    def min_size(self) -> int:
        # Reflect padding at 1/4 resolution needs more pixels than the widest dilation.
        return self.stride * (max(self.dilations) + 1)


class ConfigError(ValueError):
    """A network description that cannot or must not be built."""


# Beyond these a plan is damaged or absurd, not a larger model: the paper's
# width is 32 and its widest dilation 16 (a dilation over 64 sees past a 512
# px crop at 1/4 resolution).
LIMITS = {"width": 256, "decoder_width": 1024, "dilation": 64, "run_size": 4096, "memory_gib": 16}

CONFIGS: dict[str, NetConfig] = {
    # The paper's plan (CA coarse network without attention, base width 32).
    "paper": NetConfig(),
    # Same architecture, lighter where the cost is (the full- and half-resolution
    # decoder layers), and a Telea prefill with residual outputs.
    "default": NetConfig(
        name="default", width=24, depth=1, decoder_depth=1, half_res_width=32,
        full_res_width=16, prefill="telea", residual=True,
    ),
}


def parse_scales(text: str) -> tuple[float, ...]:
    """'1,0.5,0.25' -> (1.0, 0.5, 0.25); each a fraction in (0, 1]."""
    try:
        scales = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"not a list of numbers: {text!r}") from None
    if not all(0 < v <= 1 for v in scales):
        raise ValueError(f"scales must be fractions in (0, 1]: {text!r}")
    return scales


def get_config(name: str, **overrides) -> NetConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose from {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


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


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


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
