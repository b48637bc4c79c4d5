"""Estimate the mask of a watermark shared by a folder of photos:
``python main.py watermark-mask INPUT_DIR -o MASK.png`` (``model/cli/watermark_mask.py``).

A watermark is the same at the same place in every photo while the content
varies. So per pixel, the image gradient has a constant part (the
watermark's edges) plus a part that changes from photo to photo (the
content). The median over the photos of each gradient component keeps the
constant part and rejects the content (even strong content edges, as long
as they are not at the same place in most photos). Its magnitude is
thresholded, the edges are closed and filled into solid shapes, specks are
dropped and the result is dilated a little.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..photos.files import readable_photos
from ..photos.imageio import ImageReadError, image_size, read_image

WORK_PIXELS = 1_200_000  # photos are analysed at most at this size (memory: N x this x 4 bytes)
MIN_PHOTOS = 5


@dataclass
class WatermarkResult:
    mask: np.ndarray  # bool, full photo size, True = watermark (remove)
    size: tuple[int, int]  # (width, height) of the photos it applies to
    used: list[Path]  # photos the estimate is based on
    skipped: list[tuple[Path, str]]  # unreadable photos and why
    other_sizes: int  # photos of other sizes, left out

    @property
    def bbox(self) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1), exclusive, or None for an empty mask."""
        ys, xs = np.nonzero(self.mask)
        if not len(xs):
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _grey(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    if grey.shape[::-1] != size:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def consistency_score(images: Iterable[np.ndarray],
                      work_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the magnitude of the median gradient over the photos, and
    the median grey image (both float32, at ``work_size`` (w, h), default
    the photos' size)."""
    gxs, gys, greys = [], [], []
    for image in images:
        size = work_size or (image.shape[1], image.shape[0])
        grey = _grey(image, size)
        greys.append(np.round(grey * 255).astype(np.uint8))
        # float16 halves the memory of the stacks; gradients need no more precision
        gxs.append(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3).astype(np.float16))
        gys.append(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3).astype(np.float16))
    if len(gxs) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} photos of the same size, got {len(gxs)}")
    h, w = gxs[0].shape
    score, median = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    sx, sy, sg = np.stack(gxs), np.stack(gys), np.stack(greys)
    for y0 in range(0, h, 64):  # in bands, so the median's temporaries stay small
        mx = np.median(sx[:, y0:y0 + 64].astype(np.float32), axis=0)
        my = np.median(sy[:, y0:y0 + 64].astype(np.float32), axis=0)
        score[y0:y0 + 64] = np.hypot(mx, my)
        median[y0:y0 + 64] = np.median(sg[:, y0:y0 + 64], axis=0) / 255.0
    return score, median


def threshold(score: np.ndarray) -> float:
    """Above the background: the larger of a robust noise bound
    (median + 8 MADs) and Otsu's threshold on the strong values."""
    med = float(np.median(score))
    mad = float(np.median(np.abs(score - med))) * 1.4826
    robust = med + 8 * mad
    top = float(np.percentile(score, 99.9)) or 1.0
    scaled = np.clip(score / top * 255, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return max(robust, otsu / 255 * top)


def clean_mask(binary: np.ndarray, median_image: np.ndarray | None = None, min_area: int | None = None,
               dilate: int = 1) -> np.ndarray:
    """Close small gaps between edges, fill enclosed holes that belong to the
    watermark, drop specks, grow by ``dilate`` pixels.

    The edges of a solid semi-transparent logo enclose its inside, which has
    no gradient of its own; a ring or a letter "O" encloses content that is
    not watermark. Small holes are filled; a larger one only where the
    median image (over the photos) inside differs from just outside the
    outline, i.e. the watermark shifts the colour in there too."""
    h, w = binary.shape
    m = binary.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - m, connectivity=4)
    ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17))
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        if x == 0 or y == 0 or x + bw == w or y + bh == h:
            continue  # touches the border: the background, not a hole
        hole = labels == i
        if area > 25:
            if median_image is None:
                continue
            band = cv2.dilate(hole.astype(np.uint8), ring).astype(bool) & ~hole & (m == 0)
            if not band.any() or abs(float(median_image[hole].mean() - median_image[band].mean())) < 0.04:
                continue
        m[hole] = 1
    min_area = min_area if min_area is not None else max(12, int(h * w * 2e-5))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    m = keep[labels].astype(np.uint8)
    if dilate > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1)))
    return m.astype(bool)


def estimate_watermark_mask(images: Iterable[np.ndarray], work_size: tuple[int, int] | None = None,
                            out_size: tuple[int, int] | None = None) -> np.ndarray:
    """The shared watermark of same-size RGB uint8 photos as a bool mask
    (True = watermark), at ``out_size`` (w, h) (default: the work size)."""
    score, median = consistency_score(images, work_size)
    mask = clean_mask(score > threshold(score), median)
    if out_size is not None and out_size != mask.shape[::-1]:
        # any covered work pixel stays covered; one more pixel for the scaling
        mask = cv2.resize(mask.astype(np.float32), out_size, interpolation=cv2.INTER_LINEAR) > 0
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return mask


def same_size_photos(folder: str | Path) -> tuple[tuple[int, int], list[Path], list[tuple[Path, str]], int]:
    """The photos of ``folder`` (recursively) of its most common size: (that
    size, the photos, (path, reason) of each unreadable one, how many
    readable photos have another size). Raises ValueError when there are
    fewer than MIN_PHOTOS of them."""
    sizes: dict[Path, tuple[int, int]] = {}
    paths, skipped = readable_photos(Path(folder))
    for path in paths:
        try:
            sizes[path] = image_size(path)
        except ImageReadError as exc:
            skipped.append((path, str(exc)))
    if not sizes:
        raise ValueError(f"no readable photos in {folder}")
    size, _ = Counter(sizes.values()).most_common(1)[0]
    same = [p for p, s in sizes.items() if s == size]
    if len(same) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} photos of the same size; the most common size "
                         f"{size[0]}x{size[1]} has {len(same)}")
    return size, same, skipped, len(sizes) - len(same)


def watermark_mask_from_folder(folder: str | Path, sample: int = 40) -> WatermarkResult:
    """Estimate the watermark from up to ``sample`` photos of ``folder``
    (recursively) of its most common size, spread evenly over the folder."""
    size, same, skipped, other_sizes = same_size_photos(folder)
    picks = [same[i] for i in np.unique(np.linspace(0, len(same) - 1, min(sample, len(same))).round().astype(int))]
    scale = min(1.0, (WORK_PIXELS / (size[0] * size[1])) ** 0.5)
    work = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    used: list[Path] = []

    def photos() -> Iterator[np.ndarray]:
        for path in picks:
            try:
                image = read_image(path)
            except ImageReadError as exc:
                skipped.append((path, str(exc)))
                continue
            used.append(path)
            yield image

    mask = estimate_watermark_mask(photos(), work, size)
    return WatermarkResult(mask, size, used, skipped, other_sizes)
