"""Writing results "like" their source: the same format, mode, bit depth and
metadata, atomically. Used by the GUI's Save, ``main.py remove`` and the
batch (``model/jobs/batch.py``).

Rules (the batch documents them in docs/batch.md):

* the format follows the output's suffix; JPEG quality is estimated from the
  source's quantisation tables (or given), chroma subsampling and
  progressive mode are kept; lossless WebP stays lossless;
* EXIF is kept with orientation reset to 1 (the pixels are written upright),
  the ICC profile, DPI and palette transparency are kept;
* the fill is computed on RGB 8-bit; only the pixels the fill changed are
  written back into the source's own pixels: grayscale stays grayscale,
  alpha is kept, 16-bit stays 16-bit (the fill is scaled to 16 bits),
  palette images keep their palette (filled pixels take the nearest palette
  colour), CMYK stays CMYK (PIL's plain RGB->CMYK for the filled pixels);
* every file is written to a hidden temp file next to the target and then
  renamed over it, so a crash never leaves a half-written photo.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .atomic import IncompleteWriteError, write_bytes_atomic
from .imageio import ImageReadError, Photo, PhotoMeta, _int_peak, read_photo

FORMAT_BY_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                    ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
DEFAULT_JPEG_QUALITY = 95
DEFAULT_WEBP_QUALITY = 90
# modes each format can store; anything else is converted to the first one
_MODES = {"JPEG": ("RGB", "L", "CMYK"), "PNG": ("RGB", "RGBA", "L", "LA", "P", "I;16", "I", "1"),
          "WEBP": ("RGB", "RGBA"), "BMP": ("RGB", "RGBA", "L", "P", "1"),
          "TIFF": ("RGB", "RGBA", "L", "LA", "P", "I;16", "I;16B", "I", "CMYK", "1", "F")}
_TIFF_COMPRESSIONS = ("raw", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits")
# the same compressions as libtiff's codes, for 16-bit colour written through OpenCV
_TIFF_CODES = {"raw": 1, "tiff_lzw": 5, "tiff_adobe_deflate": 8, "tiff_deflate": 32946, "packbits": 32773}

Pixels = Image.Image | np.ndarray  # PIL image, or 16-bit colour as a uint16 RGB(A) array


def output_format(path: str | os.PathLike) -> str:
    fmt = FORMAT_BY_SUFFIX.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format {Path(path).suffix!r} (use "
                         f"{', '.join(sorted(FORMAT_BY_SUFFIX))})")
    return fmt


# ------------------------------------------------------------ write-back

def restore_like(result: np.ndarray, photo: Photo) -> Pixels:
    """The RGB uint8 ``result`` (same size as ``photo.rgb``) in the source's
    own mode and bit depth: only the pixels that differ from ``photo.rgb``
    are taken from ``result``; all others keep their source values exactly."""
    if result.shape != photo.rgb.shape:
        raise ValueError(f"result {result.shape} does not match the photo {photo.rgb.shape}")
    src = photo.image
    mode = src.mode
    if mode == "RGB" and photo.deep is None:
        return Image.fromarray(result)  # the result is the source outside the fill already
    changed = np.any(result != photo.rgb, axis=2)
    if photo.deep is not None:  # 16-bit colour
        out = photo.deep.copy()
        out[changed, :3] = result[changed].astype(np.uint16) * 257
        return out
    if not changed.any():
        return src
    if mode in ("RGBA", "LA"):
        out = np.array(src)
        colour = result if mode == "RGBA" else np.asarray(Image.fromarray(result).convert("L"))[..., None]
        out[changed, :-1] = colour[changed]
        return Image.fromarray(out)  # H x W x 4 -> RGBA, H x W x 2 -> LA
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        out = np.array(src)
        peak = _int_peak(out)
        grey = np.asarray(Image.fromarray(result).convert("L"), np.float64)
        out[changed] = np.round(grey[changed] * (peak / 255.0)).astype(out.dtype)
        return Image.fromarray(out if mode != "I" else out.astype(np.int32))  # uint16 -> I;16, int32 -> I
    if mode == "P":
        return _into_palette(src, result, changed)
    if mode in ("L", "CMYK", "1"):
        out = np.array(src)
        new = np.asarray(Image.fromarray(result).convert(mode, dither=Image.Dither.NONE))
        out[changed] = new[changed]
        return Image.fromarray(out, "CMYK") if mode == "CMYK" else Image.fromarray(out).convert(mode)
    # rare modes (PA, LAB, YCbCr, F...): RGB, alpha kept when there is one
    if "A" in mode:
        out = np.array(src.convert("RGBA"))
        out[changed, :3] = result[changed]
        return Image.fromarray(out)
    return Image.fromarray(result)


def _into_palette(src: Image.Image, result: np.ndarray, changed: np.ndarray) -> Image.Image:
    """Filled pixels take the nearest palette colour (never the transparent one)."""
    idx = np.array(src)
    palette = np.asarray(src.getpalette("RGB") or [], np.int32).reshape(-1, 3)
    if len(palette) == 0:
        return Image.fromarray(result)
    candidates = np.arange(len(palette))
    tr = src.info.get("transparency")
    if isinstance(tr, int):
        candidates = candidates[candidates != tr]
    elif isinstance(tr, bytes):  # per-entry alpha: only opaque entries
        alpha = np.frombuffer(tr, np.uint8)
        opaque = np.ones(len(palette), bool)
        opaque[:len(alpha)] = alpha == 255
        candidates = candidates[opaque] if opaque.any() else candidates
    colours = result[changed].astype(np.int32)
    choices = palette[candidates][None, :, :]
    new = np.empty(len(colours), idx.dtype)
    for i in range(0, len(colours), 16384):  # in chunks: pixels x 256 entries x 3 would not fit for big fills
        dist = ((colours[i:i + 16384, None, :] - choices) ** 2).sum(axis=2)
        new[i:i + 16384] = candidates[dist.argmin(axis=1)]
    transparent = _transparent_pixels(src, idx)
    keep = transparent[changed]  # transparent pixels stay transparent
    idx[changed] = np.where(keep, idx[changed], new)
    out = Image.fromarray(idx.astype(np.uint8), "P")
    out.putpalette(src.getpalette())
    out.info.update({k: v for k, v in src.info.items() if k == "transparency"})
    return out


def _transparent_pixels(src: Image.Image, idx: np.ndarray) -> np.ndarray:
    tr = src.info.get("transparency")
    if isinstance(tr, int):
        return idx == tr
    if isinstance(tr, bytes):
        alpha = np.full(256, 255, np.uint8)
        alpha[:len(tr)] = np.frombuffer(tr, np.uint8)[:256]
        return alpha[idx] < 255
    return np.zeros(idx.shape, bool)


# --------------------------------------------------------------- writing

def check_output(out: str | os.PathLike, photo: Photo | None = None) -> None:
    """ValueError (naming ``out``) when a result cannot be written there: an
    unsupported suffix, or a format that cannot store this photo's mode. Tried
    on a few pixels of ``photo`` in memory, so the model never runs for a file
    that then fails to save."""
    fmt = output_format(out)
    if photo is not None:
        w, h = photo.image.size
        sample = photo.image.crop((0, 0, min(w, 8), min(h, 8)))
    else:
        sample = Image.new("RGB", (8, 8))
    try:
        _encode(_storable(sample, fmt), fmt, photo.meta if photo is not None else None, None)
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds; the message is what matters
        raise ValueError(f"{out}: cannot write this photo as {fmt} ({exc})") from None


def save_pixels(pixels: Pixels, out: str | os.PathLike, meta: PhotoMeta | None = None,
                quality: int | None = None, token: str | None = None) -> None:
    """Write ``pixels`` to ``out`` (format from the suffix) with the source's
    metadata, atomically. The file is encoded in memory and written by
    ``write_bytes_atomic``, then its header is read back from the disk: a full
    disk never leaves a truncated photo under the result's name."""
    fmt = output_format(out)
    if isinstance(pixels, np.ndarray):
        data = _encode_deep(pixels, fmt, meta)
    else:
        data = _encode(_storable(pixels, fmt), fmt, meta, quality)
    write_encoded(data, out, token)


def _encode(im: Image.Image, fmt: str, meta: PhotoMeta | None, quality: int | None) -> bytes:
    """``im`` as the bytes of a ``fmt`` file with the source's metadata (in memory)."""
    buffer = io.BytesIO()
    im.save(buffer, fmt, **_save_options(im, fmt, meta, quality))
    return buffer.getvalue()


def write_encoded(data: bytes, out: str | os.PathLike, token: str | None = None) -> None:
    """Write an already encoded image file atomically (``write_bytes_atomic``)
    and read its header back from the disk: it must be the format ``out``
    names, of the size the bytes in memory say."""
    fmt = output_format(out)
    with Image.open(io.BytesIO(data)) as im:
        size = im.size

    def check(tmp: Path) -> None:
        try:
            with Image.open(tmp) as back:
                ok = back.format == fmt and back.size == size
        except Exception:  # noqa: BLE001 - any failure to read it back means it is not a good file
            ok = False
        if not ok:
            raise IncompleteWriteError(f"{out}: the written file does not read back as a {size[0]}x{size[1]} {fmt}")

    write_bytes_atomic(out, data, token, check)


def _storable(im: Image.Image, fmt: str) -> Image.Image:
    if im.mode in _MODES[fmt]:
        return im
    if fmt == "JPEG" and im.mode in ("LA", "I;16", "I;16B", "I;16L", "I"):
        return im.convert("L") if im.mode == "LA" else Image.fromarray(
            np.round(np.asarray(im, np.float64) * 255.0 / _int_peak(np.asarray(im))).astype(np.uint8), "L")
    if "A" in im.mode or "transparency" in im.info:
        return im.convert("RGBA") if "RGBA" in _MODES[fmt] else im.convert("RGB")
    return im.convert("RGB")


def _save_options(im: Image.Image, fmt: str, meta: PhotoMeta | None, quality: int | None) -> dict:
    opts: dict = {}
    if meta is not None:
        if meta.icc_profile and fmt != "BMP":
            opts["icc_profile"] = meta.icc_profile
        if meta.exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
            opts["exif"] = meta.exif
        if meta.dpi and fmt in ("JPEG", "PNG", "TIFF", "BMP"):
            opts["dpi"] = meta.dpi
        if meta.transparency is not None and im.mode in ("P", "L", "RGB") and fmt in ("PNG", "TIFF"):
            opts["transparency"] = meta.transparency
    same = meta is not None and meta.format == fmt
    if fmt == "JPEG":
        opts["quality"] = quality or (meta.quality if same and meta.quality else DEFAULT_JPEG_QUALITY)
        if same and meta.subsampling is not None and im.mode == "RGB":
            opts["subsampling"] = meta.subsampling
        if same and meta.progressive:
            opts["progressive"] = True
    elif fmt == "WEBP":
        if same and meta.lossless and quality is None:
            opts.update(lossless=True, exact=True)  # exact: keep colour under transparent pixels
        else:
            opts["quality"] = quality or DEFAULT_WEBP_QUALITY
    elif fmt == "TIFF":
        comp = meta.compression if same and meta else None
        opts["compression"] = comp if comp in _TIFF_COMPRESSIONS else "tiff_lzw"
    return opts


def _encode_deep(arr: np.ndarray, fmt: str, meta: PhotoMeta | None) -> bytes:
    """16-bit colour through OpenCV; PNG gets the ICC profile and EXIF as chunks
    (OpenCV writes neither)."""
    if fmt not in ("PNG", "TIFF"):  # 8-bit-only formats: scale down
        return _encode(Image.fromarray(np.round(arr / 257.0).astype(np.uint8)), fmt, meta, None)
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR if arr.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = []
    if fmt == "TIFF":  # keep the source's compression, as for 8-bit TIFF (LZW for an unusual one)
        comp = meta.compression if meta is not None and meta.format == "TIFF" else None
        params = [cv2.IMWRITE_TIFF_COMPRESSION, _TIFF_CODES.get(comp, _TIFF_CODES["tiff_lzw"])]
    ok, data = cv2.imencode(".png" if fmt == "PNG" else ".tif", bgr, params)
    if not ok:
        raise OSError(f"could not encode a 16-bit {fmt}")
    data = data.tobytes()
    if fmt == "PNG" and meta is not None:
        data = _png_with_chunks(data, meta)
    return data


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_with_chunks(png: bytes, meta: PhotoMeta) -> bytes:
    """Insert iCCP and eXIf right after IHDR (8-byte signature + 25-byte IHDR)."""
    extra = b""
    if meta.icc_profile:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(meta.icc_profile))
    if meta.exif:
        exif = meta.exif[6:] if meta.exif.startswith(b"Exif\x00\x00") else meta.exif
        extra += _png_chunk(b"eXIf", exif)
    return png[:33] + extra + png[33:]


def save_like(image: np.ndarray, out: str | os.PathLike, like: str | os.PathLike | None = None,
              quality: int | None = None) -> None:
    """Save RGB uint8 ``image`` to ``out`` in the format its suffix names, like
    the photo ``like`` would be: its metadata, and when ``image`` has its size,
    its mode, bit depth, alpha and palette (only changed pixels are written
    back). Without a readable ``like``, a plain RGB file."""
    photo = None
    if like is not None:
        try:
            photo = read_photo(like)
        except ImageReadError:
            photo = None  # the source is gone or unreadable: still save the result
    if photo is not None and photo.rgb.shape == np.shape(image):
        pixels: Pixels = restore_like(np.asarray(image, np.uint8), photo)
    else:
        pixels = Image.fromarray(np.asarray(image, np.uint8))
    save_pixels(pixels, out, photo.meta if photo is not None else None, quality)
