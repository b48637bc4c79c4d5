"""Masks: the one conversion between the public and the network convention,
and a seeded irregular-mask generator.

Public convention (files, GUI, CLI): non-zero / white = remove (a hole).
Network convention: 1.0 = existing pixel, 0.0 = missing.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

KINDS = ("strokes", "shapes", "blobs")


MAX_HOLE_FRACTION = 0.9  # a mask over more of the photo leaves too little context to fill from


def hole_from_user_mask(mask: np.ndarray) -> np.ndarray:
    """Public mask -> bool hole map; the one conversion for arrays and files
    (``imageio.read_mask`` uses it too).

    * H x W (any dtype): non-zero = remove;
    * H x W x 3 (RGB): a pixel with any non-zero channel = remove;
    * H x W x 4 (RGBA) or H x W x 2 (LA): when the alpha channel has any
      transparency (a value below opaque: 255 for uint8, the dtype's maximum
      for other integers, 1.0 for floats, True for bool), the alpha carries the
      strokes: alpha > 0 = remove. A fully opaque alpha says nothing and is
      ignored: the colour channels decide, as above (so an opaque black RGBA
      mask removes nothing).
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] in (2, 4):
        alpha, colour = mask[..., -1], mask[..., :-1]
        if alpha.dtype == bool:
            opaque = True
        elif np.issubdtype(alpha.dtype, np.integer):
            opaque = np.iinfo(alpha.dtype).max
        else:
            opaque = 1.0
        if alpha.size and (alpha < opaque).any():
            return alpha > 0
        mask = colour
    if mask.ndim == 3:
        mask = mask.any(axis=2)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be H x W, got shape {mask.shape}")
    return mask != 0


def check_hole_fraction(hole: np.ndarray, limit: float = MAX_HOLE_FRACTION) -> None:
    """ValueError when the hole covers more than ``limit`` of the photo: the
    fill is made from the rest of the photo, and with almost nothing left it
    would only return about the input."""
    hole = np.asarray(hole)
    fraction = float(hole.mean()) if hole.size else 0.0
    if fraction > limit:
        raise ValueError(f"the mask covers {fraction:.0%} of the photo; at most {limit:.0%} can be removed "
                         "(the fill needs the rest of the photo as context)")


def known_from_user_mask(mask: np.ndarray) -> np.ndarray:
    """Public mask -> network mask: float32 H x W, 1 = existing, 0 = missing."""
    return (~hole_from_user_mask(mask)).astype(np.float32)


def user_mask_from_hole(hole: np.ndarray) -> np.ndarray:
    """bool hole map -> uint8 image, 255 = remove (for files and the GUI)."""
    return np.where(hole, 255, 0).astype(np.uint8)


# ---------------------------------------------------------------- generator

def _stroke(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """A free-form brush stroke: a polyline of random turns, thick, round joints."""
    h, w = canvas.shape
    s = min(h, w)
    width = max(2, int(rng.uniform(0.02, 0.08) * s * scale))
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(0, 2 * math.pi)
    for _ in range(int(rng.integers(3, 10))):
        angle += rng.uniform(-1.2, 1.2)
        length = rng.uniform(0.05, 0.25) * s * scale
        nx = float(np.clip(x + length * math.cos(angle), 0, w - 1))
        ny = float(np.clip(y + length * math.sin(angle), 0, h - 1))
        cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, width)
        cv2.circle(canvas, (int(nx), int(ny)), width // 2, 1, -1)
        x, y = nx, ny


def _shape(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """A discontinuous element: a thick line, a circle, a rectangle or an ellipse."""
    h, w = canvas.shape
    s = min(h, w)
    cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
    size = max(2, int(rng.uniform(0.03, 0.15) * s * scale))
    kind = rng.integers(4)
    if kind == 0:
        angle = rng.uniform(0, math.pi)
        length = size * rng.uniform(2, 5)
        p2 = (int(cx + length * math.cos(angle)), int(cy + length * math.sin(angle)))
        cv2.line(canvas, (cx, cy), p2, 1, max(2, size // 3))
    elif kind == 1:
        cv2.circle(canvas, (cx, cy), size, 1, -1)
    elif kind == 2:
        dx, dy = int(size * rng.uniform(0.5, 2)), int(size * rng.uniform(0.5, 2))
        cv2.rectangle(canvas, (cx - dx, cy - dy), (cx + dx, cy + dy), 1, -1)
    else:
        axes = (int(size * rng.uniform(0.5, 2)), int(size * rng.uniform(0.5, 2)))
        cv2.ellipse(canvas, (cx, cy), axes, rng.uniform(0, 180), 0, 360, 1, -1)


def _blob(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """An object-like blob: a star-shaped polygon with a smooth, noisy outline."""
    h, w = canvas.shape
    s = min(h, w)
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    radius = rng.uniform(0.06, 0.2) * s * scale
    aspect = rng.uniform(0.5, 1.5)
    n = 24
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    # Low-frequency radial noise looks like an object's silhouette.
    noise = sum(rng.uniform(-0.25, 0.25) * np.cos(k * angles + rng.uniform(0, 2 * math.pi))
                for k in (2, 3, 5))
    r = radius * (1 + noise)
    pts = np.stack([cx + r * np.cos(angles) * aspect, cy + r * np.sin(angles)], axis=1)
    cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)


_DRAW = {"strokes": _stroke, "shapes": _shape, "blobs": _blob}


def random_mask(height: int, width: int, area: tuple[float, float] = (0.0, 0.4),
                rng: np.random.Generator | int | None = None,
                kinds: tuple[str, ...] = ("strokes", "shapes")) -> np.ndarray:
    """A bool hole map (True = missing) whose hole area lies in ``area``
    (fractions of the image), built of random elements of ``kinds``.
    Reproducible: the same seed (or Generator state) gives the same mask."""
    lo, hi = area
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"area range must satisfy 0 <= lo <= hi <= 1, got {area}")
    bad = [k for k in kinds if k not in _DRAW]
    if bad or not kinds:
        raise ValueError(f"unknown mask kinds {bad}; choose from {KINDS}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    target = rng.uniform(lo, hi)
    total = float(height * width)
    canvas = np.zeros((height, width), np.uint8)
    scale = 1.0
    for _ in range(200):
        if canvas.sum() / total >= target:
            break
        trial = canvas.copy()
        _DRAW[kinds[int(rng.integers(len(kinds)))]](trial, rng, scale)
        if trial.sum() / total > hi:
            scale *= 0.7  # overshoot: try a smaller element
            continue
        canvas = trial
    return _fit_area(canvas, lo, hi)


def _fit_area(canvas: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Grow or shrink by one-pixel steps until the area is inside [lo, hi]."""
    total = float(canvas.size)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(max(canvas.shape)):
        frac = canvas.sum() / total
        if frac < lo:
            grown = cv2.dilate(canvas, kernel)
            if not grown.any():  # nothing to grow from: seed the centre
                grown[canvas.shape[0] // 2, canvas.shape[1] // 2] = 1
            canvas = grown
        elif frac > hi:
            canvas = cv2.erode(canvas, kernel)
        else:
            break
    return canvas.astype(bool)


def area_bins(spec: str) -> list[tuple[float, float]]:
    """"10-20,20-30" -> [(0.1, 0.2), (0.2, 0.3)]."""
    bins = []
    for part in spec.split(","):
        try:
            a, b = (float(x) / 100 for x in part.strip().split("-"))
        except ValueError:
            raise ValueError(f"bad area bin {part!r}: use e.g. 10-20") from None
        bins.append((a, b))
    return bins
