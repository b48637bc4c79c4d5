"""Evaluation cases: the photos (the packages' bundled samples, a folder, or
the trainer's held-out photos), square crops with seeded free-form holes per
hole-area bin (``make_cases``) or the user's own masks (``cases_from_masks``),
and full-resolution photos with one object-shaped hole (``hires_case``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..masks import area_bins, random_mask
from ..photos.files import readable_photos
from ..photos.imageio import ImageReadError, read_image, read_mask
from .defaults import DEFAULT_BINS, EVAL_SIZE  # noqa: F401 (re-exported)

# Free-form brush strokes and object silhouettes, mixed within each mask:
# the two kinds of hole a user paints when removing something.
EVAL_KINDS = ("strokes", "blobs")

BinSpec = str | Sequence[tuple[float, float]]


@dataclass
class Case:
    """One evaluation case: a square photo and a hole to fill."""

    name: str
    image: np.ndarray  # RGB uint8, the ground truth
    hole: np.ndarray  # bool, True = missing
    bin: str  # area bin label, e.g. "10-20"


# ------------------------------------------------------------------ images

# Colour natural photographs that ship inside installed packages, reserved
# for evaluation (never training). Listed explicitly: the rest of those
# folders are drawings, microscopy, charts, or near-duplicates
# (motorcycle_right is the other half of a stereo pair).
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg",)


def _builtin_files() -> list[tuple[str, Path]]:
    """(name, path) of the built-in photos found on disk. Files are read
    straight from the installed packages so nothing is ever downloaded
    (some skimage.data functions fetch their image from the internet)."""
    found: list[tuple[str, Path]] = []
    try:
        import skimage.data
        root = Path(skimage.data.__file__).parent
        found += [(f"skimage/{Path(f).stem}", root / f) for f in SKIMAGE_PHOTOS]
    except ImportError:
        pass
    try:
        import sklearn.datasets
        root = Path(sklearn.datasets.__file__).parent / "images"
        found += [(f"sklearn/{Path(f).stem}", root / f) for f in SKLEARN_PHOTOS]
    except ImportError:
        pass
    try:
        import matplotlib
        root = Path(matplotlib.get_data_path()) / "sample_data"
        found += [(f"matplotlib/{Path(f).stem}", root / f) for f in MATPLOTLIB_PHOTOS]
    except ImportError:
        pass
    return [(name, path) for name, path in found if path.is_file()]


def builtin_eval_images() -> list[tuple[str, np.ndarray]]:
    """The photographs bundled with scikit-image, scikit-learn and matplotlib
    (whichever are installed), as (name, RGB uint8) at their own size."""
    return [(name, read_image(path)) for name, path in _builtin_files()]


def folder_images(folder: str | Path) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Photos in a folder (sorted by name), and a message per unreadable file."""
    paths, refused = readable_photos(folder, recursive=False)
    images, skipped = [], [f"{path}: {reason}" for path, reason in refused]
    for path in paths:
        try:
            images.append((path.stem, read_image(path)))
        except ImageReadError as exc:
            skipped.append(str(exc))
    return images, skipped


def square_crop(image: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """Centre square crop (side = the short side), resized to ``size``."""
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = image[y0:y0 + side, x0:x0 + side]
    if side != size:
        if interpolation is None:
            interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(crop)


# ------------------------------------------------------------------- cases

def bin_label(lo: float, hi: float) -> str:
    """(0.1, 0.2) -> "10-20"."""
    return f"{lo * 100:g}-{hi * 100:g}"


def _parse_bins(bins: BinSpec) -> list[tuple[float, float]]:
    return area_bins(bins) if isinstance(bins, str) else [tuple(b) for b in bins]


def make_cases(images: Sequence[tuple[str, np.ndarray]], bins: BinSpec = DEFAULT_BINS, seed: int = 0,
               per_bin: int | None = None, size: int | None = None,
               kinds: tuple[str, ...] = EVAL_KINDS) -> list[Case]:
    """``per_bin`` cases per area bin (default: one per image). Case k of every
    bin uses image k (cycling), so the bins differ only in hole size. Each
    mask comes from its own seed (seed, bin bounds, k): the same arguments
    always give the same cases, and adding a bin leaves the others alone.
    ``size``: centre-crop and resize the images to size x size first."""
    if not images:
        raise ValueError("no images to evaluate on")
    if size is not None:
        images = [(name, square_crop(img, size)) for name, img in images]
    per_bin = len(images) if per_bin is None else per_bin
    cases = []
    for lo, hi in _parse_bins(bins):
        label = bin_label(lo, hi)
        for k in range(per_bin):
            name, image = images[k % len(images)]
            rng = np.random.default_rng([seed, round(lo * 1000), round(hi * 1000), k])
            hole = random_mask(image.shape[0], image.shape[1], (lo, hi), rng=rng, kinds=kinds)
            cases.append(Case(f"{name}#{k}", image, hole, label))
    return cases


def cases_from_masks(images: Sequence[tuple[str, np.ndarray]], masks: Sequence[tuple[str, np.ndarray]],
                     bins: BinSpec = DEFAULT_BINS, per_bin: int | None = None,
                     size: int = EVAL_SIZE) -> tuple[list[Case], list[str]]:
    """Cases from mask files (bool hole maps): mask j goes with image j
    (cycling); each mask's own area picks its bin. Returns the cases and the
    names of masks that fit no bin (or came after ``per_bin`` was reached)."""
    if not images:
        raise ValueError("no images to evaluate on")
    photos = [(name, square_crop(img, size)) for name, img in images]
    ranges = _parse_bins(bins)
    counts = {bin_label(*b): 0 for b in ranges}
    cases, unused = [], []
    for j, (mask_name, hole) in enumerate(masks):
        hole = square_crop(hole.astype(np.uint8), size, cv2.INTER_NEAREST) > 0
        area = float(hole.mean())
        label = next((bin_label(lo, hi) for lo, hi in ranges if lo <= area <= hi), None)
        if label is None or (per_bin is not None and counts[label] >= per_bin):
            unused.append(mask_name)
            continue
        counts[label] += 1
        name, image = photos[j % len(photos)]
        cases.append(Case(f"{name}+{mask_name}", image, hole, label))
    return cases, unused


def folder_masks(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    return [(p.stem, read_mask(p)) for p in readable_photos(folder, recursive=False)[0]]


# --------------------------------------------------------- high resolution

HIRES_AREA = (0.02, 0.08)  # object-sized holes, fraction of the photo
HIRES_CROP = 512  # side of the hole-centred crop the deep distance and the sheet look at
_MASK_DRAW_SIDE = 512  # object masks are drawn at this size, then scaled up smoothly


def object_mask(height: int, width: int, area: tuple[float, float] = HIRES_AREA,
                rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A bool hole map shaped like one or a few objects (``masks``' blob
    silhouettes: star-shaped outlines with low-frequency wobble), covering
    ``area`` of the photo. Drawn at about 512 px and scaled up with a smooth
    outline, so it costs the same at any photo size; the area is then
    trimmed into range at full size."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    f = min(1.0, _MASK_DRAW_SIDE / max(height, width))
    sh, sw = max(8, round(height * f)), max(8, round(width * f))
    small = random_mask(sh, sw, area, rng=rng, kinds=("blobs",))
    soft = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0)
    big = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    hole = big > 0.5
    lo, hi = area
    if not lo <= hole.mean() <= hi:  # scaling moved the area out of range (tiny photos): adjust the level
        for level in (0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9):
            if lo <= (big > level).mean() <= hi:
                return big > level
    return hole


@dataclass
class HiresCase:
    """One full-resolution photo with an object-shaped hole."""

    name: str
    image: np.ndarray
    hole: np.ndarray
    centre: tuple[int, int]  # (x, y) of the crop the deep distance and the sheet use


def hires_case(name: str, image: np.ndarray, seed: int, index: int,
               area: tuple[float, float] = HIRES_AREA) -> HiresCase:
    """The photo's seeded object hole; the crop centre is the centroid of
    its largest piece."""
    rng = np.random.default_rng([seed, round(area[0] * 1000), round(area[1] * 1000), index, 7])
    hole = object_mask(image.shape[0], image.shape[1], area, rng)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    big = 1 + int(np.argmax(stats[1:count, cv2.CC_STAT_AREA])) if count > 1 else 0
    cx, cy = centroids[big] if count > 1 else (image.shape[1] / 2, image.shape[0] / 2)
    return HiresCase(name, image, hole, (int(round(cx)), int(round(cy))))


def crop_box(shape: tuple[int, ...], centre: tuple[int, int], side: int = HIRES_CROP) -> tuple[slice, slice]:
    """A side x side window centred on ``centre`` (x, y), moved inside the image."""
    h, w = shape[:2]
    sy, sx = min(side, h), min(side, w)
    y0 = int(np.clip(centre[1] - sy // 2, 0, h - sy))
    x0 = int(np.clip(centre[0] - sx // 2, 0, w - sx))
    return slice(y0, y0 + sy), slice(x0, x0 + sx)


def held_out_paths(folder: str | Path) -> tuple[list[Path], list[str]]:
    """The photo files the trainer keeps for validation when trained on ``folder``."""
    from ..training.data import scan_photos, split_validation

    scan = scan_photos(folder)
    _, held_out = split_validation(scan.usable)
    return held_out, [f"{p}: {why}" for p, why in scan.skipped]


def held_out_images(folder: str | Path) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """The photos the trainer keeps for validation when trained on ``folder``."""
    paths, skipped = held_out_paths(folder)
    return [(p.stem, read_image(p)) for p in paths], skipped
