"""Reading photos with their metadata and writing results back like them
(model/photos/imageio.py, model/photos/savefile.py): every format and mode round-trips."""
import io
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

import model.photos.imageio as imageio
from conftest import smooth_photo
from model.photos.imageio import ImageReadError, estimate_jpeg_quality, read_image, read_meta, read_photo
from model.photos.atomic import TEMP_SUFFIX
from model.photos.savefile import restore_like, save_like, save_pixels

H, W = 48, 64
HOLE = np.zeros((H, W), bool)
HOLE[10:22, 20:40] = True
FILL = np.array([250, 20, 30], np.uint8)  # a colour no test image has there
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(orientation=1):
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = orientation
    return exif.tobytes()


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_source(path, kind):
    """Write a test photo of ``kind``; return what its upright pixels should be."""
    rgb = smooth_photo(H, W, seed=7)
    if kind == "jpeg-rgb-rotated":  # stored sideways, EXIF says rotate
        Image.fromarray(np.ascontiguousarray(np.rot90(rgb, 1))).save(
            path, quality=83, exif=exif_bytes(6), icc_profile=SRGB)
    elif kind == "jpeg-grey":
        Image.fromarray(rgb[..., 1]).save(path, quality=70)
    elif kind == "jpeg-cmyk":
        Image.fromarray(rgb).convert("CMYK").save(path, quality=90)
    elif kind == "png-rgb":
        Image.fromarray(rgb).save(path, exif=exif_bytes(), icc_profile=SRGB)
    elif kind == "png-rgba":
        alpha = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path, icc_profile=SRGB)
    elif kind == "png-grey":
        Image.fromarray(rgb[..., 0]).save(path)
    elif kind == "png-palette":
        im = Image.fromarray(rgb).quantize(32)
        im.save(path, transparency=0)
    elif kind == "png-grey16":
        Image.fromarray((rgb[..., 0].astype(np.uint16) * 257 + 3)).save(path)
    elif kind == "png-rgb16":  # OpenCV writes it; add an ICC profile and EXIF by hand
        ok, png = cv2.imencode(".png", cv2.cvtColor(rgb.astype(np.uint16) * 257 + 5, cv2.COLOR_RGB2BGR))
        chunks = png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(SRGB)) + png_chunk(b"eXIf", exif_bytes()[6:])
        path.write_bytes(png.tobytes()[:33] + chunks + png.tobytes()[33:])
    elif kind == "webp-lossless-rgba":
        alpha = np.full((H, W), 200, np.uint8)
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path, lossless=True, exact=True,
                                                               exif=exif_bytes(), icc_profile=SRGB)
    elif kind == "webp-lossy":
        Image.fromarray(rgb).save(path, quality=80)
    elif kind == "bmp":
        Image.fromarray(rgb).save(path)
    elif kind == "tiff-rgb":
        Image.fromarray(rgb).save(path, compression="tiff_lzw", exif=exif_bytes(), icc_profile=SRGB)
    elif kind == "tiff-grey16":
        Image.fromarray(rgb[..., 2].astype(np.uint16) * 257).save(path)
    elif kind == "tiff-rgb16":
        cv2.imwrite(str(path), cv2.cvtColor(rgb.astype(np.uint16) * 256, cv2.COLOR_RGB2BGR))
    else:
        raise AssertionError(kind)


KINDS = {  # kind: (suffix, lossless)
    "jpeg-rgb-rotated": (".jpg", False), "jpeg-grey": (".jpg", False), "jpeg-cmyk": (".jpg", False),
    "png-rgb": (".png", True), "png-rgba": (".png", True), "png-grey": (".png", True),
    "png-palette": (".png", True), "png-grey16": (".png", True), "png-rgb16": (".png", True),
    "webp-lossless-rgba": (".webp", True), "webp-lossy": (".webp", False), "bmp": (".bmp", True),
    "tiff-rgb": (".tif", True), "tiff-grey16": (".tif", True), "tiff-rgb16": (".tif", True),
}


def raw_pixels(path):
    """Upright pixels in the file's own depth: PIL, or OpenCV for 16-bit colour."""
    photo = read_photo(path)
    return photo.deep if photo.deep is not None else np.asarray(photo.image)


@pytest.mark.parametrize("kind", list(KINDS))
def test_round_trip_keeps_format_mode_size_metadata_and_unmasked_pixels(tmp_path, kind):
    suffix, lossless = KINDS[kind]
    src, out = tmp_path / f"src{suffix}", tmp_path / f"out{suffix}"
    make_source(src, kind)
    photo = read_photo(src)
    assert photo.rgb.shape == (H, W, 3) and photo.rgb.dtype == np.uint8
    assert np.array_equal(photo.rgb, read_image(src))  # the model sees what read_image gives
    result = photo.rgb.copy()
    result[HOLE] = FILL
    save_pixels(restore_like(result, photo), out, photo.meta)

    with Image.open(src) as a, Image.open(out) as b:
        assert b.format == a.format
        assert b.mode == a.mode
        assert b.info.get("icc_profile") == a.info.get("icc_profile")
        assert b.info.get("transparency") == a.info.get("transparency")
        exif_a, exif_b = a.getexif(), b.getexif()
        if exif_a.get(0x010F):
            assert exif_b.get(0x010F) == "TestCam"
            assert exif_b.get(0x0112) == 1  # written upright
    assert read_photo(out).rgb.shape == (H, W, 3)  # upright size, whatever the source's orientation
    before, after = raw_pixels(src), raw_pixels(out)
    assert after.dtype == before.dtype and after.shape == before.shape  # bit depth and channels kept
    if lossless:
        assert np.array_equal(after[~HOLE], before[~HOLE])
    else:
        diff = np.abs(after[~HOLE].astype(int) - before[~HOLE].astype(int))
        assert diff.mean() < 4
    if before.ndim == 3 and before.shape[2] in (2, 4):  # alpha untouched, in the hole too
        assert np.array_equal(after[..., -1], before[..., -1])
    # the hole holds the fill (converted to the mode), not the source
    filled = read_photo(out).rgb[HOLE].astype(int)
    assert np.abs(filled - photo.rgb[HOLE].astype(int)).mean() > 20


def test_sixteen_bit_fill_is_scaled_to_sixteen_bits(tmp_path):
    make_source(tmp_path / "a.png", "png-grey16")
    photo = read_photo(tmp_path / "a.png")
    assert photo.meta.bits == 16 and photo.image.mode.startswith("I")
    result = photo.rgb.copy()
    result[HOLE] = 200
    save_pixels(restore_like(result, photo), tmp_path / "b.png", photo.meta)
    out = np.asarray(Image.open(tmp_path / "b.png"))
    changed = HOLE & (photo.rgb[..., 0] != 200)  # a pixel that was 200 already keeps its 16-bit value
    assert out.dtype == np.uint16 and changed.sum() > 100
    assert np.all(out[changed] == 200 * 257)
    assert np.array_equal(out[~changed], np.asarray(photo.image)[~changed])


@pytest.mark.parametrize("quality", [40, 75, 90, 97])
def test_jpeg_quality_estimate(tmp_path, quality):
    Image.fromarray(smooth_photo(H, W)).save(tmp_path / "q.jpg", quality=quality)
    with Image.open(tmp_path / "q.jpg") as im:
        assert abs(estimate_jpeg_quality(im) - quality) <= 1
    assert abs(read_meta(tmp_path / "q.jpg").quality - quality) <= 1


def test_jpeg_output_keeps_quality_and_size(tmp_path):
    """A q=70 JPEG stays a q=70 JPEG of similar size (not a q=95 or a PNG)."""
    big = smooth_photo(240, 320, seed=3)
    Image.fromarray(big).save(tmp_path / "a.jpg", quality=70, subsampling=2)
    save_like(read_image(tmp_path / "a.jpg"), tmp_path / "b.jpg", like=tmp_path / "a.jpg")
    meta = read_meta(tmp_path / "b.jpg")
    assert meta.quality == 70 and meta.subsampling == 2
    size_a, size_b = os.path.getsize(tmp_path / "a.jpg"), os.path.getsize(tmp_path / "b.jpg")
    assert 0.8 < size_b / size_a < 1.25
    save_like(read_image(tmp_path / "a.jpg"), tmp_path / "c.jpg", like=tmp_path / "a.jpg", quality=40)
    assert read_meta(tmp_path / "c.jpg").quality == 40


def test_save_like_without_source_and_leaves_no_temp(tmp_path):
    image = smooth_photo(H, W)
    save_like(image, tmp_path / "x.png")
    save_like(image, tmp_path / "y.png", like=tmp_path / "missing.jpg")
    assert np.array_equal(read_image(tmp_path / "x.png"), image)
    assert np.array_equal(read_image(tmp_path / "y.png"), image)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(TEMP_SUFFIX)]
    with pytest.raises(ValueError, match="unsupported"):
        save_like(image, tmp_path / "z.gif")


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    save_like(smooth_photo(H, W), tmp_path / "a.png")
    before = (tmp_path / "a.png").read_bytes()

    def broken_save(self, fp, *args, **kwargs):  # the encoder fails half-way (to a file or to memory)
        if isinstance(fp, io.BytesIO):
            fp.write(b"half a photo")
        else:
            with open(fp, "wb") as f:
                f.write(b"half a photo")
        raise OSError("disk full")
    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        save_like(smooth_photo(H, W, seed=2), tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


# ------------------------------------------------------------- bad input

def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(smooth_photo(H, W)).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match=r"t\.jpg: damaged or truncated"):
        read_photo(tmp_path / "t.jpg")


def test_zero_bytes_and_text(tmp_path):
    (tmp_path / "z.jpg").write_bytes(b"")
    (tmp_path / "t.jpg").write_text("not a photo")
    with pytest.raises(ImageReadError, match=r"z\.jpg: empty file"):
        read_photo(tmp_path / "z.jpg")
    with pytest.raises(ImageReadError, match=r"t\.jpg: not an image"):
        read_photo(tmp_path / "t.jpg")


def test_decompression_bomb_limit(tmp_path, monkeypatch):
    Image.fromarray(smooth_photo(H, W)).save(tmp_path / "big.png")
    assert read_photo(tmp_path / "big.png", max_pixels=H * W).rgb.shape == (H, W, 3)
    with pytest.raises(ImageReadError, match="too large"):
        read_photo(tmp_path / "big.png", max_pixels=H * W - 1)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1000)  # the module-wide limit
    with pytest.raises(ImageReadError, match="too large"):
        read_image(tmp_path / "big.png")


def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.png"
    Image.fromarray(smooth_photo(H, W)).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod does not stop reading")
        with pytest.raises(ImageReadError, match="permission denied"):
            read_photo(path)
    finally:
        path.chmod(0o644)


def test_write_mask_round_trips_and_never_leaves_half_a_file(tmp_path, monkeypatch):
    from model.photos.imageio import read_mask, write_mask

    hole = np.zeros((40, 60), bool)
    hole[10:20, 5:50] = True
    path = tmp_path / "mask.png"
    write_mask(path, hole)
    assert np.array_equal(read_mask(path), hole)
    for other in ("m.bmp", "m.tiff"):
        write_mask(tmp_path / "other" / other, hole)  # the folder is made
        assert np.array_equal(read_mask(tmp_path / "other" / other), hole)
    for name in ("mask.xyz", "mask.jpg", "mask.psd", "mask"):  # unknown, lossy, unwritable, none
        with pytest.raises(ValueError, match="masks are written as PNG"):
            write_mask(tmp_path / name, hole)
    before = path.read_bytes()

    def broken_save(self, fp, format=None, **params):  # a full disk, half-way through
        open(fp, "wb").write(b"\x89PNG half")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        write_mask(path, ~hole)
    assert path.read_bytes() == before  # the old mask is still whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png", "other"]  # no temp file left
