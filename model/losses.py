"""The paper's losses: L1 reconstruction, non-local correlation, style.

``L = Lr + λ1·Lc + λ2·Ls`` with Lr the L1 of both stages' predictions, Lc the
correlation loss on the stage-1 composite (VGG16 pool2) and Ls the style loss
on the stage-2 composite (pool1..pool3).

For training stage 2 towards texture (issue #10) two knobs go beyond the
paper: the stage-2 L1 has its own weight (``refine_l1``; a low one stops it
pulling the refined fill back to the blurry mean) and a perceptual term
``Lp`` (VGG feature L1, pool1..pool3, on the stage-2 composite) can be added.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .network import StageOutputs
from .paths import RESOURCES

BUNDLED_VGG = RESOURCES / "vgg16_hed_conv1_3.pt"
CAFFE_BGR_MEAN = (104.00699, 116.66877, 122.67892)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """VGG16 conv1_1 ... conv3_3; returns pool1, pool2, pool3.

    ``preprocess`` is "caffe" (BGR 0-255 minus the Caffe means: the bundled
    HED-converted weights) or "imagenet" (RGB 0-1, ImageNet mean/std: a
    torchvision VGG16 state dict). Frozen, always in eval mode.
    """

    def __init__(self, weights: str | Path | None = BUNDLED_VGG, preprocess: str | None = None):
        super().__init__()

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, 3, padding=1)

        # Indices as in torchvision vgg16().features, so its state dicts load.
        self.features = nn.Sequential(
            conv(3, 64), nn.ReLU(), conv(64, 64), nn.ReLU(), nn.MaxPool2d(2),
            conv(64, 128), nn.ReLU(), conv(128, 128), nn.ReLU(), nn.MaxPool2d(2),
            conv(128, 256), nn.ReLU(), conv(256, 256), nn.ReLU(), conv(256, 256), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        if weights is not None:
            weights = Path(weights)
            from .checkpoint import CheckpointError, load_state, load_tensors

            state = load_tensors(weights, "VGG16 state dict")
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
            if not isinstance(state, dict):
                raise CheckpointError(f"{weights}: not a VGG16 state dict")
            # Accept full vgg16() dicts ("features.0.weight", classifier...) too.
            state = {str(k).removeprefix("features."): v for k, v in state.items()}
            wanted = self.features.state_dict().keys()
            missing = [k for k in wanted if k not in state]
            if missing:
                raise ValueError(f"{weights}: not a VGG16 state dict (missing {missing[:3]})")
            load_state(self.features, {k: state[k] for k in wanted}, weights, "not VGG16's layer sizes")
            if preprocess is None:
                preprocess = "caffe" if weights.resolve() == BUNDLED_VGG.resolve() else "imagenet"
        self.preprocess = preprocess or "caffe"
        if self.preprocess not in ("caffe", "imagenet"):
            raise ValueError(f"unknown VGG preprocessing {self.preprocess!r}")
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """x: RGB in [-1, 1]."""
        if self.preprocess == "caffe":
            mean = x.new_tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1)
            return (x.flip(1) + 1) * 127.5 - mean
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return ((x + 1) / 2 - mean) / std

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.normalise(x)
        pools = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                pools.append(x)
        return pools


def _gram_rows_l1(rows: torch.Tensor, psi_a: torch.Tensor, rows_b: torch.Tensor,
                  psi_b: torch.Tensor) -> torch.Tensor:
    return (rows.transpose(1, 2) @ psi_a - rows_b.transpose(1, 2) @ psi_b).abs().sum()


def correlation_loss(feat: torch.Tensor, target: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Non-local correlation loss (Eq. 4): mean over the n x n position pairs
    of |Ψ(a)ᵀΨ(a) − Ψ(b)ᵀΨ(b)|, averaged over the batch.

    The n x n Gram (4096² per image at 64² pool2) is never held whole: it is
    built ``chunk`` rows at a time, each chunk recomputed in backward
    (activation checkpointing), so memory is O(chunk · n)."""
    b, c, h, w = feat.shape
    n = h * w
    psi_a = feat.reshape(b, c, n).float()
    psi_b = target.reshape(b, c, n).float()
    total = feat.new_zeros((), dtype=torch.float32)
    for start in range(0, n, chunk):
        rows_a, rows_b = psi_a[..., start:start + chunk], psi_b[..., start:start + chunk]
        if torch.is_grad_enabled() and (psi_a.requires_grad or psi_b.requires_grad):
            total = total + checkpoint(_gram_rows_l1, rows_a, psi_a, rows_b, psi_b, use_reentrant=False)
        else:
            total = total + _gram_rows_l1(rows_a, psi_a, rows_b, psi_b)
    return total / (b * n * n)


def correlation_loss_naive(feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Reference form of ``correlation_loss`` (whole n x n Gram); for tests."""
    b, c = feat.shape[:2]
    psi_a, psi_b = feat.reshape(b, c, -1), target.reshape(b, c, -1)
    return (psi_a.transpose(1, 2) @ psi_a - psi_b.transpose(1, 2) @ psi_b).abs().mean()


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Channel Gram ΦΦᵀ normalised by c·h·w."""
    b, c, h, w = feat.shape
    phi = feat.reshape(b, c, h * w).float()
    return phi @ phi.transpose(1, 2) / (c * h * w)


def style_loss(feats: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Style loss (Eq. 5): L1 between channel Grams, averaged per layer over
    its c x c entries (the per-layer normalisation by channels), summed."""
    return sum((gram(a) - gram(b)).abs().mean() for a, b in zip(feats, targets))


def perceptual_loss(feats: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Perceptual loss: mean absolute difference of the VGG features, one
    mean per layer (pool1..pool3), summed over the layers."""
    return sum((a.float() - b.float()).abs().mean() for a, b in zip(feats, targets))


@dataclass
class LossWeights:
    correlation: float = 1e-5  # λ1
    style: float = 1e-3  # λ2
    # "image": the paper's L1 over every pixel of each stage's prediction;
    # "hole": L1 over the missing pixels only, averaged per photo, so a small
    # hole counts as much as a large one and no effort goes into copying the
    # existing pixels (which the composite discards anyway).
    l1_region: str = "image"
    # Weight of the stage-2 L1 (stage 1's is always 1). The paper: 1.
    refine_l1: float = 1.0
    # Perceptual loss on the stage-2 composite (0: off, the paper).
    perceptual: float = 0.0


def reconstruction_loss(prediction: torch.Tensor, truth: torch.Tensor,
                        known: torch.Tensor | None = None, region: str = "image") -> torch.Tensor:
    """L1 of one stage's prediction over the whole image, or over the hole
    only (mean per photo over its missing pixels, then over the batch)."""
    prediction = prediction.float()
    if region == "image":
        return F.l1_loss(prediction, truth)
    if region != "hole":
        raise ValueError(f"l1 region must be 'image' or 'hole', not {region!r}")
    if known is None:
        raise ValueError("the hole L1 needs the mask")
    hole = 1 - known.float()
    per_photo = ((prediction - truth).abs() * hole).sum(dim=(1, 2, 3))
    # at least one pixel: a photo with no hole contributes 0, not NaN
    area = hole.sum(dim=(1, 2, 3)).clamp(min=1) * truth.shape[1]
    return (per_photo / area).mean()


class InpaintLoss(nn.Module):
    """Total loss of the paper for one batch; returns (total, parts)."""

    def __init__(self, vgg: VGGFeatures | None, weights: LossWeights = LossWeights()):
        super().__init__()
        self.vgg = vgg
        self.weights = weights

    def forward(self, out: StageOutputs, truth: torch.Tensor,
                known: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``known``: the network mask (1 = existing), needed for the hole L1.
        The parts come back as detached tensors on the loss's device: reading
        them as numbers waits for the device, so the trainer does that only
        when it logs (``loss_values``), not every step."""
        w = self.weights
        l1_coarse = reconstruction_loss(out.coarse, truth, known, w.l1_region)
        l1_refined = reconstruction_loss(out.refined, truth, known, w.l1_region)
        l1 = l1_coarse + w.refine_l1 * l1_refined
        parts = {"l1": l1.detach(), "l1_refined": l1_refined.detach()}
        total = l1
        use_vgg = self.vgg is not None and (w.correlation > 0 or w.style > 0 or w.perceptual > 0)
        if use_vgg:
            with torch.no_grad():
                truth_feats = self.vgg(truth)
            if self.weights.correlation > 0:
                pool2 = self.vgg(out.coarse_composite)[1]
                lc = correlation_loss(pool2, truth_feats[1])
                parts["correlation"] = lc.detach()
                total = total + self.weights.correlation * lc
            if w.style > 0 or w.perceptual > 0:
                refined_feats = self.vgg(out.refined_composite)
            if w.style > 0:
                ls = style_loss(refined_feats, truth_feats)
                parts["style"] = ls.detach()
                total = total + w.style * ls
            if w.perceptual > 0:
                lp = perceptual_loss(refined_feats, truth_feats)
                parts["perceptual"] = lp.detach()
                total = total + w.perceptual * lp
        parts["total"] = total.detach()
        return total, parts


def loss_values(parts: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loss parts as Python floats, read from the device in one transfer."""
    if not parts:
        return {}
    values = torch.stack([v.detach().float().reshape(()) for v in parts.values()]).tolist()
    return dict(zip(parts, values))
