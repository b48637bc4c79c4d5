"""Image quality metrics on RGB uint8 images (numpy + OpenCV only).

PSNR, SSIM and L1 compare whole images (filled hole and known pixels alike),
as the paper's Table 1 does. SSIM is computed per RGB channel and averaged.
``sharpness_ratio`` looks at the hole only: how much detail a fill has
compared with the truth (1.0 = as much; a blurry fill is well below 1).
The deep-feature distance lives in ``model.deep_distance`` (it needs torch
and the eval extra).
"""
from __future__ import annotations

import cv2
import numpy as np

PSNR_CAP = 100.0  # identical images: a finite ceiling instead of inf


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over the whole image (peak 255), capped."""
    a, b = _pair(a, b)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10 * np.log10(255.0 ** 2 / mse)))


def l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute error in [0, 1] units."""
    a, b = _pair(a, b)
    return float(np.mean(np.abs(a - b)) / 255.0)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01,
    K2 0.03, computed per channel and averaged (as skimage's
    structural_similarity with gaussian_weights=True,
    use_sample_covariance=False, data_range=255, channel_axis=-1)."""
    a, b = _pair(a, b)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    scores = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        mx, my = blur(x), blur(y)
        vx = blur(x * x) - mx * mx
        vy = blur(y * y) - my * my
        cxy = blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        pad = 5  # skimage ignores the border where the window falls off the image
        scores.append(s[pad:-pad, pad:-pad].mean() if min(s.shape) > 2 * pad else s.mean())
    return float(np.mean(scores))


SHARPNESS_EPS = 1e-3  # grey levels per pixel: keeps a flat truth from dividing by 0


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB image, float32 in 0..255 (a 2-D input is returned as float)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 2:
        return image
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Per-pixel |grad| of the luminance: 3x3 Sobel / 8, i.e. grey levels per
    pixel (a ramp of slope 1 gives 1), reflected borders."""
    y = luminance(image)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    return np.sqrt(gx * gx + gy * gy)


def hole_sharpness(image: np.ndarray, hole: np.ndarray) -> float:
    """Mean luminance gradient magnitude over the hole pixels."""
    hole = np.asarray(hole, bool)
    if hole.shape != np.shape(image)[:2]:
        raise ValueError(f"hole {hole.shape} does not match image {np.shape(image)[:2]}")
    if not hole.any():
        raise ValueError("empty hole")
    return float(gradient_magnitude(image)[hole].mean())


def sharpness_ratio(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    """Mean luminance gradient magnitude over the hole, ``out`` / ``truth``:
    1.0 = as much detail as the truth, below 1 = blurrier, above = more
    edges or noise than the truth. Only the hole's bounding box (plus one
    pixel for the 3x3 kernel) is filtered, so large photos are cheap."""
    if np.shape(out) != np.shape(truth):
        raise ValueError(f"images differ in shape: {np.shape(out)} vs {np.shape(truth)}")
    hole = np.asarray(hole, bool)
    ys, xs = np.nonzero(hole)
    if ys.size == 0:
        raise ValueError("empty hole")
    h, w = hole.shape
    y0, y1 = max(0, ys.min() - 1), min(h, ys.max() + 2)
    x0, x1 = max(0, xs.min() - 1), min(w, xs.max() + 2)
    box = (slice(y0, y1), slice(x0, x1))
    g_out = hole_sharpness(np.asarray(out)[box], hole[box])
    g_truth = hole_sharpness(np.asarray(truth)[box], hole[box])
    return (g_out + SHARPNESS_EPS) / (g_truth + SHARPNESS_EPS)
