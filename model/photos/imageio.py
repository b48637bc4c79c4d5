"""Reading photos and masks for the app, the CLI and the trainer.

Every failure is an ``ImageReadError`` whose message names the file and the
problem, so callers can report it and go on.

``read_photo`` also keeps what is needed to write a result back "like" the
source (``model/photos/savefile.py``): the pixels in their own mode and bit depth
(alpha, palette, grayscale, CMYK, 16-bit) and the metadata (format, EXIF,
ICC profile, JPEG quality and chroma subsampling).
"""
from __future__ import annotations

import copy
import errno
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin

from ..masks import hole_from_user_mask, user_mask_from_hole
from .atomic import atomic_target
from .files import special_kind

MAX_PIXELS = 200_000_000  # refuse decompression bombs above this
_PIL_LIMIT = MAX_PIXELS  # PIL's own (global) check stays at the default; see _open_checked
# PIL warns (two lines on stderr) about images near its limit; _open_checked
# refuses them with one clear line of its own, so the warning only adds noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

ORIENTATION = 0x0112  # the EXIF orientation tag
# TIFF tags that describe the file's own layout; they must not be copied
# into another file's EXIF (the writer sets its own).
_TIFF_LAYOUT_TAGS = {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 317,
                     320, 322, 323, 324, 325, 338, 339, 340, 341, 347, 530, 531, 532, 34675}


class ImageReadError(ValueError):
    """A file that cannot be used as a photo or a mask."""


def _pixel_limit(max_pixels: int | None) -> int:
    return MAX_PIXELS if max_pixels is None else max_pixels  # read at call time: tests lower it


def check_regular_file(path: Path) -> os.stat_result:
    """``os.stat`` of a file about to be read: ImageReadError unless it is a
    regular file (a FIFO, socket or device would block or never end; a
    symlink loop or a dangling symlink names the problem)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        dangling = os.path.islink(path)
        raise ImageReadError(f"{path}: {'symlink to a missing file' if dangling else 'file not found'}") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageReadError(f"{path}: symlink loop (the link points back to itself)") from None
        raise ImageReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(f"{path}: is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(f"{path}: not a regular file ({special_kind(st.st_mode)}); not read")
    return st


def _open_checked(path: Path, max_pixels: int | None) -> Image.Image:
    """``Image.open`` (header only) with the errors turned into ImageReadError.
    Only regular files are opened; animated or multi-frame files are refused
    (only their first frame would be cleaned and the rest lost)."""
    limit = _pixel_limit(max_pixels)
    check_regular_file(path)
    # PIL's own bomb check is a global; keep it at the module-wide limit and
    # check the per-call limit here, so that threads never race on it.
    Image.MAX_IMAGE_PIXELS = max(_PIL_LIMIT, limit)
    try:
        im = Image.open(path)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{path}: image too large (over {limit:,} pixels)") from None
    except Image.UnidentifiedImageError:
        reason = "empty file" if path.stat().st_size == 0 else "not an image or unsupported format"
        raise ImageReadError(f"{path}: {reason}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: damaged or truncated image ({exc})") from None
    if im.width * im.height > limit:
        im.close()
        raise ImageReadError(f"{path}: image too large ({im.width}x{im.height}, over {limit:,} pixels)")
    try:
        frames = int(getattr(im, "n_frames", 1) or 1)
    except Exception:  # counting frames reads the file: a damaged one fails later anyway
        frames = 1
    # A camera JPEG with an MPF preview opens as "MPO" with 2+ frames: the photo
    # is the first frame, the others are previews, not content.
    if frames > 1 and im.format != "MPO":
        im.close()
        raise ImageReadError(f"{path}: animated or multi-frame image ({frames} frames); only still images "
                             "are supported (frames 2..n would be lost)")
    return im


def _load(im: Image.Image, path: Path) -> None:
    try:
        im.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: damaged or truncated image ({exc})") from None


def open_image(path: str | os.PathLike, max_pixels: int | None = None) -> Image.Image:
    """Open and fully decode with PIL, EXIF orientation applied."""
    path = Path(path)
    with _open_checked(path, max_pixels) as im:
        _load(im, path)
        upright = ImageOps.exif_transpose(im)
        upright.format = im.format  # a rotated copy would forget it
        return upright


def image_size(path: str | os.PathLike, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), from the header only."""
    path = Path(path)
    with _open_checked(path, max_pixels) as im:
        try:
            turned = im.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)
        except Exception:
            turned = False
        return (im.height, im.width) if turned else (im.width, im.height)


def to_rgb_array(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> RGB uint8 H x W x 3 (16-bit scaled down, alpha dropped)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        peak = _int_peak(arr)
        grey = np.clip(np.round(arr / peak * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _int_peak(arr: np.ndarray) -> float:
    """The white level of a 16/32-bit grey image: 8-bit data stored wide stays 255."""
    return 65535.0 if arr.size and arr.max() > 255 else 255.0


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A photo as RGB uint8 H x W x 3, EXIF-rotated."""
    return to_rgb_array(open_image(path))


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A mask file as a bool hole map, by the same rule as an array
    (``masks.hole_from_user_mask``: alpha when it has transparency, else
    non-zero / white = remove); lossy files (JPEG, WebP without alpha) are
    thresholded at 50 % so compression noise around black is not a hole."""
    im = open_image(path)
    if im.format in ("JPEG", "WEBP") and im.mode not in ("RGBA", "LA"):
        return np.asarray(im.convert("L")) > 127
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        arr = np.asarray(im.convert("RGBA"))
    elif im.mode in ("1", "L", "RGB", "I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(im)
    else:  # palette without transparency, CMYK, YCbCr...
        arr = np.asarray(im.convert("RGB"))
    try:
        return hole_from_user_mask(arr)
    except ValueError as exc:
        raise ImageReadError(f"{path}: {exc}") from None


MASK_FORMATS = {".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}  # lossless, read back by read_mask


def write_mask(path: str | os.PathLike, hole: np.ndarray) -> None:
    """Write ``hole`` as a user mask (white = remove), in the format the
    name's suffix says, atomically: an existing file at ``path`` is either
    replaced whole or left as it was."""
    suffix = Path(path).suffix.lower()
    fmt = MASK_FORMATS.get(suffix)
    if fmt is None:  # a lossy or unreadable format would not give the same mask back
        raise ValueError(f"{path}: masks are written as PNG, BMP or TIFF, not {suffix or '(no suffix)'!r}")
    with atomic_target(path) as tmp:
        Image.fromarray(user_mask_from_hole(hole), mode="L").save(tmp, format=fmt)


# ------------------------------------------------------- photos + metadata

@dataclass
class PhotoMeta:
    """What a result file should inherit from its source file."""

    format: str | None  # PIL format name: JPEG, PNG, WEBP, BMP, TIFF
    mode: str  # PIL mode of the source pixels ("RGB", "L", "P", "RGBA", "I;16", "CMYK", ...)
    exif: bytes | None = None  # orientation already reset to 1
    icc_profile: bytes | None = None
    quality: int | None = None  # JPEG quality estimated from the quantisation tables
    subsampling: int | None = None  # JPEG chroma subsampling (0 4:4:4, 1 4:2:2, 2 4:2:0)
    progressive: bool = False
    dpi: tuple[float, float] | None = None
    lossless: bool = False  # WebP: lossless (VP8L) source
    compression: str | None = None  # TIFF compression name
    transparency: int | bytes | tuple | None = None  # palette/L/RGB tRNS colour
    bits: int = 8  # bits per channel of the source (16 for 16-bit photos)


@dataclass
class Photo:
    """A decoded photo: ``rgb`` for the model, the source pixels for writing back."""

    path: Path
    rgb: np.ndarray  # RGB uint8 H x W x 3, upright
    image: Image.Image  # upright, in the source mode (16-bit grey as I;16, alpha kept)
    meta: PhotoMeta
    deep: np.ndarray | None = None  # 16-bit colour: RGB(A) uint16 H x W x C, upright (PIL reads it as 8-bit)


def read_photo(path: str | os.PathLike, max_pixels: int | None = None) -> Photo:
    """Decode a photo for the batch and ``save_like``: upright pixels in the
    source mode, RGB uint8 for the model (the same as ``read_image``) and the
    metadata to carry over."""
    path = Path(path)
    with _open_checked(path, max_pixels) as im:
        _load(im, path)
        meta = photo_meta(im, path)
        upright = ImageOps.exif_transpose(im)
        orientation = im.getexif().get(ORIENTATION, 1)
    deep = _read_deep_colour(path, orientation) if meta.bits == 16 and upright.mode in ("RGB", "RGBA") else None
    rgb = to_rgb_array(upright)  # exactly what read_image gives (the GUI compares against it)
    if not rgb.flags.writeable:  # torch warns about read-only arrays
        rgb = rgb.copy()
    return Photo(path, rgb, upright, meta, deep)


def read_meta(path: str | os.PathLike) -> PhotoMeta:
    """Only the metadata (reads the header, not the pixels)."""
    path = Path(path)
    with _open_checked(path, None) as im:
        return photo_meta(im, path)


def photo_meta(im: Image.Image, path: Path | None = None) -> PhotoMeta:
    """Metadata of an opened (not yet rotated) image."""
    fmt = im.format
    meta = PhotoMeta(format=fmt, mode=im.mode, icc_profile=im.info.get("icc_profile") or None,
                     transparency=im.info.get("transparency"))
    dpi = im.info.get("dpi")
    if dpi:
        meta.dpi = (float(dpi[0]), float(dpi[1]))
    meta.exif = _upright_exif(im)
    if fmt == "JPEG":
        meta.quality = estimate_jpeg_quality(im)
        sampling = JpegImagePlugin.get_sampling(im)
        meta.subsampling = sampling if sampling in (0, 1, 2) else None
        meta.progressive = bool(im.info.get("progressive") or im.info.get("progression"))
    elif fmt == "WEBP" and path is not None:
        meta.lossless = _webp_is_lossless(path)
    elif fmt == "TIFF":
        meta.compression = im.info.get("compression")
    meta.bits = _bits_per_channel(im, path)
    return meta


def _upright_exif(im: Image.Image) -> bytes | None:
    """The EXIF block with orientation 1 (results are written upright)."""
    try:
        src = im.getexif()
        if im.format == "TIFF":
            # A TIFF's "EXIF" is its first IFD: keep the descriptive tags only.
            exif = Image.Exif()
            for tag, value in src.items():
                if tag in (0x8769, 0x8825):  # Exif and GPS sub-IFDs
                    exif.get_ifd(tag).update(src.get_ifd(tag))
                elif tag not in _TIFF_LAYOUT_TAGS:
                    exif[tag] = value
        else:
            exif = copy.deepcopy(src)  # PIL caches it: exif_transpose reads the original later
        if not len(exif):
            return None
        exif[ORIENTATION] = 1
        return exif.tobytes()
    except Exception:  # a broken EXIF block must not cost the photo
        return None


def _bits_per_channel(im: Image.Image, path: Path | None) -> int:
    if im.mode.startswith("I;16") or im.mode == "I":
        return 16
    if im.format == "PNG" and path is not None:
        with open(path, "rb") as f:
            head = f.read(26)
        return head[24] if len(head) >= 25 and head[12:16] == b"IHDR" else 8
    if im.format == "TIFF":
        bits = im.tag_v2.get(258) if hasattr(im, "tag_v2") else None
        if isinstance(bits, tuple) and bits:
            return int(bits[0])
        if isinstance(bits, int):
            return bits
    return 8


def _read_deep_colour(path: Path, orientation: int) -> np.ndarray | None:
    """16-bit RGB(A) through OpenCV (PIL would reduce it to 8 bits), upright."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        return None
    arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return apply_orientation(arr, orientation)


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """The numpy twin of ``ImageOps.exif_transpose`` (EXIF orientation 1-8)."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def _webp_is_lossless(path: Path) -> bool:
    """True when the WebP bitstream is VP8L (lossless)."""
    with open(path, "rb") as f:
        data = f.read(4096)
    return b"VP8L" in data[12:] and b"VP8 " not in data[12:]


# libjpeg's (IJG) standard tables, in natural order; every common encoder
# scales these by quality, so the nearest scaled table gives the quality.
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)
_STD_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, np.float64)


def _scaled_table(base: np.ndarray, quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


def estimate_jpeg_quality(im: Image.Image) -> int | None:
    """The IJG quality (1-100) whose tables are nearest to the file's.

    Compared as sorted values so the table order (zig-zag or natural) does
    not matter."""
    tables = getattr(im, "quantization", None)
    if not tables:
        return None
    ours = [np.sort(np.asarray(tables[k], np.float64)) for k in sorted(tables)[:2]]
    if any(t.size != 64 for t in ours):
        return None
    bases = [np.sort(_STD_LUMA), np.sort(_STD_CHROMA)]
    best, best_err = None, np.inf
    for q in range(1, 101):
        err = sum(np.abs(np.sort(_scaled_table(b, q)) - t).sum() for b, t in zip(bases, ours))
        if err < best_err:
            best, best_err = q, err
    return best
