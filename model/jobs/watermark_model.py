"""The estimated watermark: its opacity ``alpha`` and colour ``W`` per
pixel (``Watermark``), its files (``watermark-mask``'s MASK.png,
MASK_alpha.png, MASK_colour.png) and its one-line description.

A watermark is blended as ``J = alpha * W + (1 - alpha) * I`` with the same
opacity ``alpha`` and colour ``W`` (both per pixel) in every photo, so with
both known the photo comes back: ``I = (J - alpha * W) / (1 - alpha)``
(Dekel et al., "On the Effectiveness of Visible Watermarks", CVPR 2017).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from .watermark_placement import Placement

OPAQUE = 0.85  # alpha above this is not inverted: the model fills
MASK_ALPHA = 0.04  # the tight mask: alpha above this (estimation noise is about 0.02)
NO_MARK = "no consistent watermark found"


class NoWatermarkError(ValueError):
    """The photos do not share a watermark (or too faint to estimate)."""


@dataclass
class Watermark:
    """The estimated mark, at the size of the photos it came from."""

    alpha: np.ndarray  # H x W float32, 0..1 opacity
    colour: np.ndarray  # H x W x 3 float32, 0..255 (0 where alpha is 0)
    used: list = field(default_factory=list)  # photos the estimate is based on
    skipped: list = field(default_factory=list)  # (path, reason) of unreadable photos
    other_sizes: int = 0  # photos of other sizes, left out of the estimate
    placement: Placement | None = None  # how the mark is scaled and placed on photos of other sizes
    without: list = field(default_factory=list)  # sample photos that do not carry the mark (left out)
    cropped: int = 0  # sample photos whose mark is cut by their border (restored, not estimated from)
    fits: dict = field(default_factory=dict)  # (w, h) -> 2 x 3 map, this frame's pixel -> that size's, refined

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]

    @property
    def opaque(self) -> np.ndarray:
        return self.alpha >= OPAQUE

    @property
    def mask(self) -> np.ndarray:
        """The tight mask (bool): where the mark changes the photo."""
        return tight_mask(self.alpha)

    @property
    def bbox(self) -> tuple[int, int, int, int] | None:
        ys, xs = np.nonzero(self.alpha > 0)
        if not len(xs):
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def digest(self) -> str:
        h = hashlib.sha256(np.round(self.alpha * 255).astype(np.uint8).tobytes())
        h.update(np.round(self.colour).astype(np.uint8).tobytes())
        h.update(self.placement.to_text().encode() if self.placement is not None else b"")
        return h.hexdigest()[:16]

    def preview(self, background: int = 128) -> np.ndarray:
        """The mark over a grey background (RGB uint8), for approval."""
        a = self.alpha[..., None]
        return np.clip(a * self.colour + (1 - a) * background, 0, 255).round().astype(np.uint8)

    def save(self, mask_path: str | Path) -> list[Path]:
        """Write MASK.png (the tight mask, white = mark), MASK_alpha.png
        (opacity, 16-bit grey) and MASK_colour.png (colour, RGB); the mask
        carries a digest of alpha and colour, so a changed estimate changes
        the mask file's bytes."""
        from ..masks import user_mask_from_hole
        from ..photos.atomic import atomic_target
        from ..photos.savefile import output_format

        mask_path = Path(mask_path)
        alpha_path, colour_path = companion_paths(mask_path)
        info = PngImagePlugin.PngInfo()
        info.add_text("watermark-digest", self.digest())
        rule = PngImagePlugin.PngInfo()
        if self.placement is not None:
            info.add_text("watermark-placement", self.placement.to_text())
            rule.add_text("watermark-placement", self.placement.to_text())
            rule.add_text("watermark-fits", json.dumps({f"{w}x{h}": np.asarray(m).round(6).tolist()
                                                        for (w, h), m in self.fits.items()}))
        with atomic_target(mask_path) as tmp:
            Image.fromarray(user_mask_from_hole(self.mask)).save(tmp, output_format(mask_path), pnginfo=info)
        with atomic_target(alpha_path) as tmp:
            Image.fromarray(np.round(self.alpha * 65535).astype(np.uint16)).save(tmp, "PNG", pnginfo=rule)
        with atomic_target(colour_path) as tmp:
            Image.fromarray(np.clip(self.colour, 0, 255).round().astype(np.uint8)).save(tmp, "PNG")
        return [mask_path, alpha_path, colour_path]

    @classmethod
    def load(cls, path: str | Path) -> "Watermark":
        """From MASK.png (with MASK_alpha.png and MASK_colour.png next to it)
        or from MASK_alpha.png itself. Without a colour file, white."""
        path = Path(path)
        if path.stem.endswith("_alpha"):
            alpha_path = path
            colour_path = path.with_name(path.stem[:-len("_alpha")] + "_colour.png")
        else:
            alpha_path, colour_path = companion_paths(path)
        if not alpha_path.is_file():
            raise FileNotFoundError(f"no watermark opacity file {alpha_path} (written by watermark-mask)")
        with Image.open(alpha_path) as im:
            a = np.asarray(im)
            rule = im.info.get("watermark-placement")
            fits_text = im.info.get("watermark-fits")
        placement = Placement.from_text(rule) if rule else None
        fits = {}
        if placement is not None and fits_text:
            for key, m in json.loads(fits_text).items():
                w, h = (int(v) for v in key.split("x"))
                fits[(w, h)] = np.array(m, np.float64).reshape(2, 3)
        alpha = a.astype(np.float32) / (65535.0 if a.dtype == np.uint16 or a.max() > 255 else 255.0)
        if alpha.ndim == 3:
            alpha = alpha[..., 0]
        if colour_path.is_file():
            with Image.open(colour_path) as im:
                colour = np.asarray(im.convert("RGB"), np.float32)
            if colour.shape[:2] != alpha.shape:
                raise ValueError(f"{colour_path} is not the size of {alpha_path}")
        else:
            colour = np.full(alpha.shape + (3,), 255.0, np.float32)
        colour = colour * (alpha > 0)[..., None]
        return cls(alpha, colour, placement=placement, fits=fits)


def companion_paths(mask_path: str | Path) -> tuple[Path, Path]:
    """MASK.png -> (MASK_alpha.png, MASK_colour.png)."""
    mask_path = Path(mask_path)
    return (mask_path.with_name(f"{mask_path.stem}_alpha.png"), mask_path.with_name(f"{mask_path.stem}_colour.png"))


def tight_mask(alpha: np.ndarray, level: float = MASK_ALPHA, dilate: int = 1) -> np.ndarray:
    """Where the mark's opacity exceeds ``level``, specks dropped, grown by
    ``dilate`` px (the anti-aliased rim)."""
    m = (alpha > level).astype(np.uint8)
    h, w = m.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(6, int(h * w * 2e-6))
    m = keep[labels].astype(np.uint8)
    if dilate > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1)))
    return m.astype(bool)


def describe(mark: Watermark) -> str:
    """One line: box, area, opacity, colour, opaque part."""
    box = mark.bbox
    if box is None:
        return "empty watermark"
    x0, y0, x1, y1 = box
    m = mark.mask
    strong = mark.alpha > 0.1
    col = np.median(mark.colour[strong], 0) if strong.any() else np.zeros(3)
    opaque = int(mark.opaque.sum())
    rule = f"{mark.placement.describe()}; at {mark.size[0]}x{mark.size[1]}: " if mark.placement is not None else ""
    return (rule + f"box x {x0}-{x1}, y {y0}-{y1} ({x1 - x0}x{y1 - y0}), area {int(m.sum())} px, "
            f"opacity median {float(np.median(mark.alpha[strong])) if strong.any() else 0:.2f} "
            f"(max {float(mark.alpha.max()):.2f}), colour median RGB {tuple(int(v) for v in col)}"
            + (f", {opaque} px opaque (filled by the model)" if opaque else ""))
