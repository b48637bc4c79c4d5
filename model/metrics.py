"""Image quality metrics on RGB uint8 images (numpy + OpenCV only).

All three compare whole images (filled hole and known pixels alike), as the
paper's Table 1 does. SSIM is computed per RGB channel and averaged.
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
