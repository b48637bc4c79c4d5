"""Reading photos and masks for the app, the CLI and the trainer.

Every failure is an ``ImageReadError`` whose message names the file and the
problem, so callers can report it and go on.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .masks import hole_from_user_mask

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MAX_PIXELS = 200_000_000  # refuse decompression bombs above this


class ImageReadError(ValueError):
    """A file that cannot be used as a photo or a mask."""


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode with PIL, EXIF orientation applied."""
    path = Path(path)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                upright = ImageOps.exif_transpose(im)
                upright.format = im.format  # a rotated copy would forget it
                return upright
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(f"{path}: image too large (over {MAX_PIXELS:,} pixels)") from None
    except Image.UnidentifiedImageError:
        reason = "empty file" if path.stat().st_size == 0 else "not an image or unsupported format"
        raise ImageReadError(f"{path}: {reason}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: damaged or truncated image ({exc})") from None


def to_rgb_array(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> RGB uint8 H x W x 3 (16-bit scaled down, alpha dropped)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(np.round(arr / peak * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A photo as RGB uint8 H x W x 3, EXIF-rotated."""
    return to_rgb_array(open_image(path))


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask file as a bool hole map (non-zero / white = remove). Alpha-only
    masks (transparent except the strokes) are read from their alpha channel;
    lossy files (JPEG, WebP) are thresholded at 50 % so compression noise
    around black does not count as a hole."""
    im = open_image(path)
    if im.format in ("JPEG", "WEBP") and im.mode not in ("RGBA", "LA"):
        return np.asarray(im.convert("L")) > 127
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        arr = np.asarray(im)
        if arr[..., 3].min() < 255:  # transparency carries the strokes
            return arr[..., 3] > 0
        return hole_from_user_mask(arr[..., :3])
    return hole_from_user_mask(np.asarray(im.convert("L")))


def write_mask(path: str | os.PathLike, hole: np.ndarray) -> None:
    Image.fromarray(np.where(hole, 255, 0).astype(np.uint8), mode="L").save(path)
