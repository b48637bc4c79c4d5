"""The network's prefill: the classical or harmonic fill its input holes start from."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .fill.classical import TELEA_RADIUS, classical_fill  # noqa: F401 (re-exported)
from .netconfig import DEVICE_PREFILLS, PREFILLS  # noqa: F401 (re-exported)

HARMONIC_ITERATIONS = 16  # Jacobi sweeps per pyramid level: a linear ramp within 0.5 grey levels


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 H x W x 3 -> float 3 x H x W in [-1, 1]."""
    image = np.ascontiguousarray(image)
    if not image.flags.writeable:  # e.g. np.asarray of a PIL image; torch wants writeable memory
        image = image.copy()
    return torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1


def _neighbour_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of the four neighbours (the image's edge repeated outward)."""
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return (p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]) * 0.25


def harmonic_fill(image: torch.Tensor, known: torch.Tensor, iterations: int = HARMONIC_ITERATIONS) -> torch.Tensor:
    """Fill the hole of ``image`` (B x C x H x W, float) where ``known``
    (B x 1 x H x W) is 0 with a smooth interpolation of its surroundings:
    push-pull (known pixels averaged down a pyramid until nothing is missing,
    then brought back up) with ``iterations`` Jacobi sweeps of Laplace's
    equation at every level, known pixels held fixed. Each level starts from
    the coarser level's answer, so a few sweeps suffice; the result tends to
    the harmonic fill, which reproduces constant and linear images exactly.
    Plain tensor operations: runs on CUDA, MPS and CPU, batched."""
    dtype = image.dtype
    x = image.float() * known
    w = (known > 0.5).float()
    levels = [(x, w)]
    # Down to one pixel whatever the hole: asking whether anything is still
    # missing would make a GPU wait for the answer at every level.
    while min(x.shape[-2:]) > 1:
        weighted = F.avg_pool2d(x * w, 2, ceil_mode=True)
        weight = F.avg_pool2d(w, 2, ceil_mode=True)
        x = weighted / weight.clamp(min=1e-8)  # the mean of the known pixels under each coarse pixel
        w = (weight > 0).float()
        levels.append((x, w))
    filled = None
    for x, w in reversed(levels):
        if filled is None:  # the coarsest level: the mean of all known pixels (0 if none)
            filled = w * x
        else:
            up = F.interpolate(filled, size=x.shape[-2:], mode="bilinear", align_corners=False)
            filled = w * x + (1 - w) * up
        for _ in range(iterations):
            filled = w * x + (1 - w) * _neighbour_mean(filled)
    return filled.to(dtype)


def network_inputs(image: np.ndarray, hole: np.ndarray, prefill: str) -> tuple[torch.Tensor, ...]:
    """(image, known mask, prefill) tensors for one RGB uint8 image and bool
    hole map, as InpaintNet expects them (without the batch dimension)."""
    known = torch.from_numpy((~hole).astype(np.float32))[None]
    if prefill == "zero":
        filled = torch.zeros(3, *hole.shape)
    elif prefill == "harmonic":
        filled = harmonic_fill(to_tensor(image)[None], known[None])[0]
    else:
        filled = to_tensor(classical_fill(image, hole, prefill))
    return to_tensor(image), known, filled
