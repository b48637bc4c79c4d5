import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import smooth_photo
from model.metrics import PSNR_CAP, gradient_magnitude, l1, psnr, sharpness_ratio, ssim

ROOT = Path(__file__).resolve().parent.parent


def test_identical_images_give_capped_psnr_ssim_one_l1_zero():
    img = smooth_photo(64, 80, seed=1)
    assert psnr(img, img.copy()) == PSNR_CAP
    assert math.isfinite(psnr(img, img))
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-9)
    assert l1(img, img) == 0.0


def test_psnr_matches_the_definition_on_known_noise(rng):
    img = np.full((50, 60, 3), 128, np.uint8)
    noise = rng.integers(-6, 7, img.shape)  # small enough never to clip
    noisy = (img.astype(int) + noise).astype(np.uint8)
    mse = np.mean(noise.astype(float) ** 2)
    assert psnr(img, noisy) == pytest.approx(10 * math.log10(255 ** 2 / mse), abs=1e-9)
    assert psnr(noisy, img) == psnr(img, noisy)


def test_psnr_falls_as_the_error_grows(rng):
    img = smooth_photo(64, 64, seed=2)
    small = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    large = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    assert psnr(img, large) < psnr(img, small) < PSNR_CAP


def test_l1_is_in_unit_range():
    a = np.full((10, 10, 3), 100, np.uint8)
    assert l1(a, a + 10) == pytest.approx(10 / 255)
    assert l1(np.zeros_like(a), np.full_like(a, 255)) == pytest.approx(1.0)


def _test_images(rng) -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference, distorted) pairs: blur, noise, a filled-in square, a shift."""
    photo = smooth_photo(96, 128, seed=3)
    blurred = cv2.GaussianBlur(photo, (7, 7), 2)
    noisy = np.clip(photo + rng.normal(0, 15, photo.shape), 0, 255).astype(np.uint8)
    patched = photo.copy()
    patched[20:60, 30:90] = photo[20:60, 30:90].mean(axis=(0, 1)).astype(np.uint8)
    texture = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    shifted = np.roll(texture, 1, axis=1)
    return [(photo, blurred), (photo, noisy), (photo, patched), (texture, shifted)]


def test_ssim_agrees_with_skimage(rng):
    from skimage.metrics import structural_similarity  # the eval extra, which make installs
    for ref, out in _test_images(rng):
        expected = structural_similarity(ref, out, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255, channel_axis=-1)
        assert ssim(ref, out) == pytest.approx(expected, abs=1e-3)
        assert ssim(ref, out) < 0.999


def test_ssim_is_symmetric_and_orders_distortions(rng):
    img = smooth_photo(64, 64, seed=4)
    mild = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    strong = np.clip(img + rng.normal(0, 30, img.shape), 0, 255).astype(np.uint8)
    assert ssim(img, mild) == pytest.approx(ssim(mild, img), abs=1e-12)
    assert ssim(img, strong) < ssim(img, mild) < 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))


def test_metrics_do_not_need_skimage():
    code = "import sys, model.metrics; sys.exit('skimage' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0


# ------------------------------------------------------------- sharpness

def _hole(size=64):
    hole = np.zeros((size, size), bool)
    hole[16:48, 12:52] = True
    return hole


def test_sharpness_ratio_is_one_for_the_truth_below_for_blur_above_for_noise(rng):
    img = smooth_photo(64, 64, seed=5)
    hole = _hole()
    assert sharpness_ratio(img, img, hole) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(img, (0, 0), 2.0)
    assert sharpness_ratio(blurred, img, hole) < 0.8
    flat = img.copy()
    flat[hole] = img[hole].mean(axis=0).astype(np.uint8)
    # a flat fill keeps only the seam's gradient (the hole's rim touches known pixels)
    assert sharpness_ratio(flat, img, hole) < min(0.35, sharpness_ratio(blurred, img, hole))
    noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    assert sharpness_ratio(noisy, img, hole) > 1.5


def test_sharpness_ratio_looks_only_at_the_hole():
    img = smooth_photo(64, 64, seed=6)
    hole = _hole()
    out = img.copy()
    out[:8] = 0  # far outside the hole (more than the 3x3 kernel's reach)
    assert sharpness_ratio(out, img, hole) == pytest.approx(1.0)
    # and equals the definition on the whole image (the bounding-box shortcut changes nothing)
    blurred = cv2.GaussianBlur(img, (0, 0), 1.5)
    full = gradient_magnitude(blurred)[hole].mean() / gradient_magnitude(img)[hole].mean()
    assert sharpness_ratio(blurred, img, hole) == pytest.approx(full, rel=1e-4)


def test_gradient_magnitude_is_in_grey_levels_per_pixel():
    ramp = np.tile(np.arange(64, dtype=np.float32) * 2, (32, 1))  # slope 2 along x
    img = np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8)
    g = gradient_magnitude(img)
    assert g[4:-4, 4:-4] == pytest.approx(np.full((24, 56), 2.0), abs=1e-4)


def test_sharpness_ratio_rejects_bad_input():
    img = smooth_photo(32, 32)
    with pytest.raises(ValueError):
        sharpness_ratio(img, img, np.zeros((32, 32), bool))
    with pytest.raises(ValueError):
        sharpness_ratio(img, img[:16], np.ones((32, 32), bool))
