"""Restoring photos under a shared semi-transparent watermark
(model/jobs/watermark_*.py, ``batch --watermark``)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from model.fill.base import Filler, FillResult
from model.jobs.batch import run_batch
from model.jobs.errors import BatchError
from model.jobs.options import BatchOptions
from model.jobs.watermark_estimate import estimate_watermark, watermark_from_folder
from model.jobs.watermark_matte import mark_evidence
from model.jobs.watermark_model import NO_MARK, NoWatermarkError, Watermark
from model.jobs.watermark_placement import place_mark, search_mark
from model.jobs.watermark_restore import prepare_batch
from model.jobs.watermark_unblend import restore
from model.photos.imageio import read_image, read_mask
from test_watermark import random_photo, watermark_alpha

ROOT = Path(__file__).resolve().parent.parent


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def blend(image, alpha, colour):
    a = alpha[..., None]
    return np.clip(np.round(a * colour + (1 - a) * image), 0, 255).astype(np.uint8)


def synthetic(n, h=200, w=300, opacity=0.5, colour=(255.0, 255.0, 255.0), seed=0):
    """``n`` varied photos under one text + logo mark: (clean, marked, alpha, colour map)."""
    rng = np.random.default_rng(seed)
    alpha = watermark_alpha(h, w, False) * opacity
    col = np.zeros((h, w, 3), np.float32)
    col[alpha > 0] = colour
    clean = [random_photo(rng, h, w) for _ in range(n)]
    return clean, [blend(c, alpha, col) for c in clean], alpha, col


class FakeInpainter(Filler):
    """Fills the hole with a flat magenta and records the holes it got."""

    def __init__(self):
        self.holes = []

    def __call__(self, image, mask, should_stop=None):
        self.holes.append(mask.copy())
        out = image.copy()
        out[mask > 0] = (255, 0, 255)
        return FillResult({"refined": out, "coarse": out})


# ------------------------------------------------------------- estimation

@pytest.mark.parametrize("opacity, colour, seed", [(0.5, (255, 255, 255), 0), (0.35, (0, 0, 0), 1),
                                                   (0.6, (40, 160, 255), 2)])
def test_estimation_recovers_a_known_alpha_and_colour_from_20_photos(opacity, colour, seed):
    _, marked, alpha, col = synthetic(20, opacity=opacity, colour=colour, seed=seed)
    mark = estimate_watermark(marked)
    on = alpha > 0
    err = np.abs(mark.alpha - alpha)[on].mean()
    assert err <= 0.03, f"mean alpha error {err:.3f}"
    solid = alpha > 0.8 * opacity
    colour_err = np.abs(np.median(mark.colour[solid], 0) - np.array(colour)).max()
    assert colour_err <= 12, f"colour off by {colour_err:.1f}"
    assert mark.alpha[~cv2.dilate(on.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)].max() == 0


def test_photos_without_a_shared_mark_are_reported_not_invented():
    rng = np.random.default_rng(5)
    photos = [random_photo(rng, 120, 160) for _ in range(20)]
    with pytest.raises(NoWatermarkError, match=NO_MARK):
        estimate_watermark(photos)


def test_tight_mask_on_real_photos():
    """The issue's tightness target on the evaluation photos that ship with
    scikit-image / scikit-learn / matplotlib (the benchmark's mark)."""
    from benchmarks.watermark import make_mark, real_photos

    alpha, colour = make_mark()
    photos = [blend(p, alpha, colour) for _, p in real_photos(24)]
    mark = estimate_watermark(photos)
    truth = alpha > 0
    mask = mark.mask
    assert (mask & truth).sum() / truth.sum() >= 0.95
    assert mask.sum() <= 1.5 * truth.sum()
    assert np.abs(mark.alpha - alpha)[truth].mean() <= 0.03
    # the colour pooled photo by photo (where each photo's surroundings
    # predict it well): 6.4 levels off with the unweighted means, 5.0 now
    assert np.abs(mark.colour - colour)[alpha > 0.1].mean() <= 5.5



@pytest.mark.parametrize("count", [6, 8])
def test_a_small_folder_of_real_photos_without_a_mark_is_not_given_one(count):
    """With few photos, some edges are shared by chance; the estimate took
    them for a mark of opacity 0.2-0.3 until each photo had to show it."""
    from benchmarks.watermark import make_mark, real_photos

    photos = [p for _, p in real_photos(count)]
    with pytest.raises(NoWatermarkError, match="no consistent watermark found"):
        estimate_watermark(photos)
    alpha, colour = make_mark()  # the same photos under a real mark: found
    mark = estimate_watermark([blend(p, alpha, colour) for p in photos])
    assert np.abs(mark.alpha - alpha)[alpha > 0].mean() <= 0.06
    assert np.median(mark_evidence(mark.alpha, mark.colour, [blend(p, alpha, colour) for p in photos])) > 0.5

# ------------------------------------------------------------ restoration

def test_inversion_round_trip_on_lossless_inputs():
    clean, marked, alpha, col = synthetic(3, opacity=0.6, colour=(200, 80, 20), seed=3)
    for c, m in zip(clean, marked):
        out = restore(m, alpha, col, FakeInpainter(), denoise=False)
        assert np.abs(out.image.astype(int) - c.astype(int)).max() <= 2  # blend rounding x 1/(1 - 0.6)
        assert not out.filled.any()
        far = np.ones(alpha.shape, bool)
        x0, y0, x1, y1 = out.box
        far[y0:y1, x0:x1] = False
        assert np.array_equal(out.image[far], m[far])  # nothing changes away from the mark


def test_estimated_mark_restores_far_better_than_the_watermarked_photo():
    clean, marked, alpha, col = synthetic(20, opacity=0.5, seed=4)
    mark = estimate_watermark(marked)
    ys, xs = np.nonzero(alpha > 0)
    box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    for c, m in zip(clean[:4], marked[:4]):
        out = restore(m, mark.alpha, mark.colour, FakeInpainter()).image
        assert psnr(out[box], c[box]) > psnr(m[box], c[box]) + 8


def test_opaque_parts_fall_back_to_inpainting():
    rng = np.random.default_rng(6)
    h, w = 80, 120
    clean = random_photo(rng, h, w)
    alpha = np.zeros((h, w), np.float32)
    alpha[20:40, 20:60] = 0.4  # semi-transparent: inverted
    alpha[50:70, 70:110] = 1.0  # opaque: filled by the model
    col = np.full((h, w, 3), 255.0, np.float32) * (alpha > 0)[..., None]
    fake = FakeInpainter()
    out = restore(blend(clean, alpha, col), alpha, col, fake, denoise=False)
    assert len(fake.holes) == 1
    hole = fake.holes[0] > 0
    assert hole[50:70, 70:110].all() and not hole[20:40, 20:60].any()
    assert (out.image[52:68, 72:108] == (255, 0, 255)).all()  # the fill, inside
    assert np.abs(out.image[20:40, 20:60].astype(int) - clean[20:40, 20:60]).max() <= 2  # the inversion
    assert out.filled[60, 90] == 1 and out.filled[30, 40] == 0
    ring = out.filled[48:72, 68:112].copy()
    ring[2:-2, 2:-2] = 0
    assert 0 < ring.max() < 1  # a feathered edge around the opaque part, never a hard step


def test_watermark_files_round_trip(tmp_path):
    _, marked, alpha, col = synthetic(12, opacity=0.4, seed=7)
    mark = estimate_watermark(marked)
    paths = mark.save(tmp_path / "wm.png")
    assert [p.name for p in paths] == ["wm.png", "wm_alpha.png", "wm_colour.png"]
    again = Watermark.load(tmp_path / "wm.png")
    assert np.abs(again.alpha - mark.alpha).max() < 1e-4
    assert np.abs(again.colour - mark.colour).max() <= 0.5
    assert np.array_equal(read_mask(tmp_path / "wm.png"), mark.mask)


# ------------------------------------------------------- other photo sizes

def test_other_sizes_by_mask_fit_and_by_search():
    _, marked, alpha, col = synthetic(20, opacity=0.5, seed=8)
    mark = estimate_watermark(marked)
    rng = np.random.default_rng(9)
    big_clean = random_photo(rng, 260, 400)
    big_alpha = np.zeros((260, 400), np.float32)
    big_alpha[60:, 100:] = alpha  # the mark keeps its pixel size at the bottom-right corner
    big_col = np.zeros((260, 400, 3), np.float32)
    big_col[60:, 100:] = col
    big = blend(big_clean, big_alpha, big_col)
    a1, _, how = place_mark(mark, big, "anchor-bottomright")
    assert how == "anchor-bottomright" and np.abs(a1 - big_alpha)[big_alpha > 0].mean() < 0.04
    oy, ox, score = search_mark(mark, big)
    assert (oy, ox) == (60, 100) and score > 0.5
    a2, _, how = place_mark(mark, big, "error")
    assert "found by search" in how and np.array_equal(a1, a2)
    with pytest.raises(ValueError, match="not found"):
        place_mark(mark, random_photo(rng, 260, 400), "error")


def test_batch_with_different_sizes_and_mask_fit(tmp_path):
    clean, marked, alpha, col = synthetic(20, opacity=0.5, seed=10)
    src = tmp_path / "in"
    src.mkdir()
    for i, m in enumerate(marked):
        Image.fromarray(m).save(src / f"p{i:02d}.png")
    rng = np.random.default_rng(11)
    big_clean = random_photo(rng, 240, 360)
    big_alpha = np.zeros((240, 360), np.float32)
    big_alpha[40:, 60:] = alpha
    big_col = np.zeros((240, 360, 3), np.float32)
    big_col[40:, 60:] = col
    Image.fromarray(blend(big_clean, big_alpha, big_col)).save(src / "big.png")
    notes = []
    options, restorer = prepare_batch(BatchOptions(src, output_dir=tmp_path / "out",
                                                   mask_fit="anchor-bottomright"), "auto", 40, note=notes.append)
    summary = run_batch(options, restorer.bind(FakeInpainter()))
    assert summary.done == 21 and not summary.failed
    assert notes == ["360x240 photo: watermark anchor-bottomright"]
    out = read_image(tmp_path / "out" / "big.png")
    box = np.s_[40 + 100:, 60 + 60:]
    assert psnr(out[box], big_clean[box]) > psnr(read_image(src / "big.png")[box], big_clean[box]) + 8
    assert (tmp_path / "out" / ".inpaint-watermark" / "watermark_alpha.png").is_file()
    # the saved estimate is reused as is (--watermark FILE) and keys --resume
    again, again_restorer = prepare_batch(BatchOptions(src, output_dir=tmp_path / "out2"),
                                          tmp_path / "out" / ".inpaint-watermark" / "watermark.png")
    assert not (tmp_path / "out2").exists()  # written by the run, under its lock
    again_restorer.prepare_output(tmp_path / "out2")
    saved = tmp_path / "out" / ".inpaint-watermark" / "watermark.png"
    assert (tmp_path / "out2" / ".inpaint-watermark" / "watermark.png").read_bytes() == saved.read_bytes()
    assert again.mask is None and again_restorer.mark.digest() == restorer.mark.digest()
    with pytest.raises(BatchError, match="replaces"):
        prepare_batch(BatchOptions(src, output_dir=tmp_path / "o3", mask=saved), "auto")


# -------------------------------------------------------------------- CLI

def cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_watermark_mask_writes_alpha_and_colour_then_batch_restores(tmp_path):
    clean, marked, alpha, col = synthetic(20, h=120, w=300, opacity=0.45, seed=12)
    src = tmp_path / "in"
    src.mkdir()
    for i, m in enumerate(marked):
        Image.fromarray(m).save(src / f"p{i:02d}.jpg", quality=95)
    res = cli("watermark-mask", src, "-o", tmp_path / "wm.png")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "wm_alpha.png").is_file() and (tmp_path / "wm_colour.png").is_file()
    assert "wm_alpha.png" in res.stdout
    res = cli("batch", src, "--watermark", "auto", "-o", tmp_path / "out", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "20 cleaned" in res.stderr and "watermark from 20 photos" in res.stderr
    ys, xs = np.nonzero(alpha > 0)
    box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    for i in range(3):
        out, before = read_image(tmp_path / "out" / f"p{i:02d}.jpg"), read_image(src / f"p{i:02d}.jpg")
        assert psnr(out[box], clean[i][box]) > psnr(before[box], clean[i][box]) + 6
    res = cli("batch", src, "--watermark", tmp_path / "wm.png", "-o", tmp_path / "out2", "--device", "cpu")
    assert res.returncode == 0, res.stderr


def test_cli_no_shared_mark(tmp_path):
    rng = np.random.default_rng(13)
    for i in range(12):
        Image.fromarray(random_photo(rng, 100, 140)).save(tmp_path / f"p{i:02d}.png")
    res = cli("batch", tmp_path, "--watermark", "auto", "-o", tmp_path.parent / f"{tmp_path.name}_out")
    assert res.returncode == 2 and NO_MARK in res.stderr
    res = cli("watermark-mask", tmp_path, "-o", tmp_path.parent / "m.png")
    assert res.returncode == 1 and NO_MARK in res.stderr
    with pytest.raises(NoWatermarkError):
        watermark_from_folder(tmp_path)


def test_a_small_folder_of_mostly_smooth_photos_gets_no_specks_beside_the_mark():
    """7 photos, 3 of them smooth skies: chance edges that the 4 textured
    ones share passed the region's noise bound and came out as specks of
    alpha all over the photo (the box grew to most of it), which the
    restoration would then "invert". Each part must show in most photos."""
    from benchmarks.watermark import blend as mark_blend, make_mark, real_photos

    size = (320, 240)
    photos = [img for _, img in real_photos(4, size)]
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.7, 1.0, size[1])[:, None, None]
    for k in range(3):
        sky = np.array([60, 110, 200]) * ramp + 10 * k + rng.normal(0, 1.0, (size[1], size[0], 3))
        photos.append(np.clip(sky, 0, 255).astype(np.uint8))
    alpha, colour = make_mark(size)
    mark = estimate_watermark([mark_blend(p, alpha, colour) for p in photos])
    truth = alpha > 0
    # estimation noise right beside the mark is allowed, alpha elsewhere is not
    near = cv2.dilate(truth.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
    found = mark.alpha > 0
    assert found[truth].mean() > 0.8  # the mark itself is kept
    assert not (found & ~near).any(), f"{int((found & ~near).sum())} px of alpha away from the mark"
    assert np.abs(mark.alpha - alpha)[truth].mean() <= 0.06
