"""Training data: random multi-scale crops of a folder of photos with seeded
irregular masks. Every sample is a pure function of (seed, sample index), so
a resumed run sees exactly the data an uninterrupted one would have."""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..photos.files import readable_photos
from ..photos.imageio import ImageReadError, open_image, read_image
from ..masks import random_mask
from ..prefill import network_inputs


@dataclass
class PhotoScan:
    usable: list[Path]
    skipped: list[tuple[Path, str]]  # unreadable files and why


def scan_photos(folder: str | Path, exclude: Path | None = None) -> PhotoScan:
    """Every readable photo under ``folder`` (recursive, by ``readable_photos``:
    hidden files, symlinks out of the folder and special files left out), sorted; unreadable and refused ones are
    listed in ``skipped`` with the reason, never fatal."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    usable = []
    paths, skipped = readable_photos(folder, exclude=(exclude,) if exclude is not None else ())
    # sorted as paths (folder by folder), the order the crops and the validation split were always drawn in
    for path in sorted(paths):
        try:
            with open_image(path) as im:
                if min(im.size) < 16:
                    raise ImageReadError(f"{path}: too small ({im.size[0]}x{im.size[1]})")
        except ImageReadError as exc:
            skipped.append((path, str(exc)))
            continue
        usable.append(path)
    return PhotoScan(usable, skipped)


def split_validation(photos: list[Path], fraction: float = 0.1) -> tuple[list[Path], list[Path]]:
    """A fixed held-out part, chosen by a hash of the file name so adding
    photos never moves old ones between the splits. With a single photo it
    serves both (different crops)."""
    if len(photos) < 2:
        return list(photos), list(photos)
    ranked = sorted(photos, key=lambda p: zlib.crc32(p.name.encode()))
    n_val = max(1, round(len(photos) * fraction))
    val = set(ranked[:n_val])
    return [p for p in photos if p not in val], [p for p in photos if p in val]


def decode_for_training(path: Path, size: int, max_side: int) -> np.ndarray:
    """The photo as training crops are cut from it: RGB uint8, scaled so its
    short side is at most ``max_side`` (and at least ``size``)."""
    image = read_image(path)
    h, w = image.shape[:2]
    short = min(h, w)
    scale = min(max_side / short, 1.0) if short > size else size / short
    if scale != 1.0:
        dsize = (max(size, round(w * scale)), max(size, round(h * scale)))
        image = cv2.resize(image, dsize, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return image


def photo_index(seed: int, n_photos: int, sample: int) -> int:
    """Which photo sample number ``sample`` is cut from: every epoch of
    ``n_photos`` samples visits each photo once, in a seeded order."""
    epoch, pos = divmod(sample, n_photos)
    return int(np.random.default_rng([seed, epoch, 7]).permutation(n_photos)[pos])


class CropDataset(Dataset):
    """Sample i -> (truth image, known mask, prefill) tensors at size x size.

    The photo, crop scale/position, flip and mask of sample i depend only on
    (seed, i). Photos are decoded once and kept downscaled (short side at
    most ``max_side``) in a per-process cache."""

    def __init__(self, photos: list[Path], size: int, prefill: str, hole_area: tuple[float, float],
                 seed: int = 0, max_side: int | None = None, cache: int = 256):
        if not photos:
            raise ValueError("no photos to train on")
        self.photos = photos
        self.size = size
        self.prefill = prefill
        self.hole_area = hole_area
        self.seed = seed
        self.max_side = max_side or 4 * size
        self.cache = cache
        self._load = lru_cache(maxsize=cache)(self._decode)

    def __getstate__(self) -> dict:  # worker processes get an empty cache
        state = self.__dict__.copy()
        del state["_load"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._load = lru_cache(maxsize=self.cache)(self._decode)

    def __len__(self) -> int:  # virtual: indices are unbounded sample numbers
        return 2**62

    def _decode(self, index: int) -> np.ndarray:
        return decode_for_training(self.photos[index], self.size, self.max_side)

    def photo_index(self, sample: int) -> int:
        return photo_index(self.seed, len(self.photos), sample)

    def __getitem__(self, sample: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, sample])
        image = self._load(self.photo_index(sample))
        h, w = image.shape[:2]
        # Crop side log-uniform between the output size and the short side:
        # one photo yields both close-ups and wide views.
        short = min(h, w)
        side = int(round(math.exp(rng.uniform(math.log(self.size), math.log(short))))) if short > self.size else short
        y = int(rng.integers(0, h - side + 1))
        x = int(rng.integers(0, w - side + 1))
        crop = image[y:y + side, x:x + side]
        if side != self.size:
            crop = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(crop)
        hole = random_mask(self.size, self.size, self.hole_area, rng, kinds=("strokes", "shapes", "blobs"))
        return network_inputs(crop, hole, self.prefill)
