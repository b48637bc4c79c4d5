"""Classical fills: the network's optional prefill and the eval baselines."""
from __future__ import annotations

import cv2
import numpy as np
import torch

TELEA_RADIUS = 5


def classical_fill(image: np.ndarray, hole: np.ndarray, method: str = "telea",
                   radius: int = TELEA_RADIUS) -> np.ndarray:
    """cv2.inpaint (Telea or Navier-Stokes) of an RGB uint8 image; hole: bool."""
    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
    if method not in flags:
        raise ValueError(f"unknown classical fill {method!r}; choose from {sorted(flags)}")
    if not hole.any():
        return image.copy()
    return cv2.inpaint(np.ascontiguousarray(image), hole.astype(np.uint8), radius, flags[method])


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 H x W x 3 -> float 3 x H x W in [-1, 1]."""
    image = np.ascontiguousarray(image)
    if not image.flags.writeable:  # e.g. np.asarray of a PIL image; torch wants writeable memory
        image = image.copy()
    return torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1


def network_inputs(image: np.ndarray, hole: np.ndarray, prefill: str) -> tuple[torch.Tensor, ...]:
    """(image, known mask, prefill) tensors for one RGB uint8 image and bool
    hole map, as InpaintNet expects them (without the batch dimension)."""
    known = torch.from_numpy((~hole).astype(np.float32))[None]
    if prefill == "zero":
        filled = torch.zeros(3, *hole.shape)
    else:
        filled = to_tensor(classical_fill(image, hole, prefill))
    return to_tensor(image), known, filled
