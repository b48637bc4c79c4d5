"""Fitting a mask to a photo of another size (``BatchOptions.mask_fit``)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..photos.imageio import read_mask
from .errors import PhotoRefused
from .options import MASK_FITS


def fit_mask(hole: np.ndarray, height: int, width: int, rule: str) -> np.ndarray:
    """Map a bool hole map onto a ``height`` x ``width`` photo by ``rule``.

    ``stretch`` scales it (any covered pixel stays a hole, so a thin
    watermark is never lost); ``anchor-*`` keeps its pixel size and pins it
    to a corner or the centre (watermarks sit at a fixed size in a corner),
    cropping what falls outside; ``error`` refuses a different size (PhotoRefused)."""
    mh, mw = hole.shape
    if (mh, mw) == (height, width):
        return hole
    if rule == "error":
        raise PhotoRefused(f"mask is {mw}x{mh} but the photo is {width}x{height}", "mask_fit")
    if rule == "stretch":
        interp = cv2.INTER_AREA if width * height < mw * mh else cv2.INTER_LINEAR
        return cv2.resize(hole.astype(np.float32), (width, height), interpolation=interp) > 0
    if rule not in MASK_FITS:
        raise ValueError(f"unknown mask fit {rule!r}")
    return pinned(hole, height, width, *anchor_offset((mh, mw), height, width, rule))


def anchor_offset(shape: tuple[int, int], height: int, width: int, rule: str) -> tuple[int, int]:
    """Where ``anchor-*`` ``rule`` puts the top-left corner (oy, ox) of a
    map of ``shape`` (h, w) on a ``height`` x ``width`` photo (negative: it
    sticks out)."""
    mh, mw = shape
    where = rule.removeprefix("anchor-")
    oy = 0 if "top" in where else (height - mh if "bottom" in where else (height - mh) // 2)
    ox = 0 if "left" in where else (width - mw if "right" in where else (width - mw) // 2)
    return oy, ox


def pinned(src: np.ndarray, height: int, width: int, oy: int, ox: int) -> np.ndarray:
    """``src`` (any dtype, any channels) at offset (oy, ox) of a
    ``height`` x ``width`` map of zeros, what falls outside cut off."""
    mh, mw = src.shape[:2]
    out = np.zeros((height, width) + src.shape[2:], src.dtype)
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + mh, height), min(ox + mw, width)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = src[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return out


class MaskFitter:
    """Each photo's mask fitted to it by ``rule`` (``fit_mask``); the shared
    mask (``BatchOptions.mask``) is fitted once per photo size."""

    def __init__(self, shared_hole: np.ndarray | None, rule: str):
        self.shared_hole, self.rule = shared_hole, rule
        self.fitted: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, mask: Path | None, height: int, width: int) -> np.ndarray:
        if self.shared_hole is None:
            return fit_mask(read_mask(mask), height, width, self.rule)
        if (height, width) not in self.fitted:
            self.fitted[(height, width)] = fit_mask(self.shared_hole, height, width, self.rule)
        return self.fitted[(height, width)]
