"""Restore one photo under a mark of known opacity and colour: invert the
blend where ``alpha`` is clearly below 1; the inversion multiplies the
photo's JPEG noise by ``1 / (1 - alpha)``, so the result is denoised
(non-local means) with a weight that grows with that gain; where the mark
is opaque (``alpha`` near 1) or the photo is clipped under it (nothing to
invert), the model's inpainting (``model.inference.Inpainter``) fills,
feathered into the restored pixels. Every pixel outside the mark's region
is left exactly as it was. ``fit_to_photo`` first refines the placed mark
on the photo (a sub-pixel shift, a sharpening or blur of its edges).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .watermark_model import MASK_ALPHA, OPAQUE
from .watermark_placement import box_around

FALLBACK_FROM = 0.7  # from here up to OPAQUE the result blends toward the fill
DENOISE_H = 8  # non-local means strength on the inverted pixels (0..255 scale)
DENOISE_GAIN = 1.5  # the denoised result takes over fully at gain 1 / (1 - alpha) = 1 + this
CLIP_SLACK = 40  # inverted further out of 0..255 than this: not trusted, the fill takes over (20 also caught good pixels: -0.15 dB)
SMALL_FILL = 64  # fewer pixels to fill than this: OpenCV's Telea instead of the model (as good, far faster)


@dataclass
class Restored:
    image: np.ndarray  # RGB uint8, the restored photo
    filled: np.ndarray  # float32 H x W, 0..1: how much of each pixel is the model's fill
    box: tuple[int, int, int, int] | None  # where pixels may differ from the input


def restore(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray, inpainter=None,
            denoise: bool = True) -> Restored:
    """Remove a mark of known ``alpha`` / ``colour`` (at the image's size)
    from RGB uint8 ``image``.

    Inverts the blend where alpha < OPAQUE; blends toward the fill from
    FALLBACK_FROM to OPAQUE and wherever the inversion lands far out of
    range (clipped, or alpha / W wrong there), feathered; ``denoise``
    takes out the JPEG noise the inversion amplified (weight growing with
    the gain 1 / (1 - alpha)). ``inpainter``: a ``model.fill`` filler (the
    network's ``Inpainter``, or another); None, or fewer than
    SMALL_FILL pixels to fill, uses OpenCV's Telea fill. Pixels outside the
    mark's box (+ a few px) are untouched."""
    image = np.asarray(image)
    out = image.copy()
    covered = alpha > 0
    box = box_around(covered, 6)
    if box is None:
        return Restored(out, np.zeros(alpha.shape, np.float32), None)
    x0, y0, x1, y1 = box
    J = image[y0:y1, x0:x1].astype(np.float32)
    a = alpha[y0:y1, x0:x1].astype(np.float32)
    on = a > 0
    s = np.maximum(1 - a, 1 - OPAQUE)[..., None]
    inv = (J - a[..., None] * colour[y0:y1, x0:x1]) / s
    # the inversion cannot be trusted where it lands far out of range (clipped, or alpha/W off there)
    clipped = on & ((inv < -CLIP_SLACK) | (inv > 255 + CLIP_SLACK)).any(-1) & (a > 0.1)
    inv = np.clip(inv, 0, 255)
    if denoise:
        gain = 1 / s[..., 0]
        weight = (np.clip((gain - 1) / DENOISE_GAIN, 0, 1) * on)[..., None]
        if weight.max() > 0:
            smooth = cv2.fastNlMeansDenoisingColored(np.round(inv).astype(np.uint8), None, DENOISE_H, DENOISE_H, 5, 15)
            inv = inv + weight * (smooth.astype(np.float32) - inv)
    restored = np.where(on[..., None], inv, J)
    fall = np.clip((a - FALLBACK_FROM) / (OPAQUE - FALLBACK_FROM), 0, 1)
    fall[clipped] = 1.0
    if fall.max() > 0:  # feather: grows 2 px outward, no further than the mark
        fall = np.maximum(fall, cv2.GaussianBlur(cv2.dilate(fall, np.ones((3, 3), np.uint8)), (0, 0), 1.0))
        fall[~cv2.dilate(on.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)] = 0
    filled = np.zeros(alpha.shape, np.float32)
    result = np.clip(np.round(restored), 0, 255).astype(np.uint8)
    if fall.max() > 0.01:
        hole = fall > 0.01
        base = out.copy()
        base[y0:y1, x0:x1] = result
        full_hole = np.zeros(alpha.shape, bool)
        full_hole[y0:y1, x0:x1] = hole
        if inpainter is None or hole.sum() < SMALL_FILL:  # a few pixels: OpenCV's Telea fill, in the box
            fill = base.copy()
            fill[y0:y1, x0:x1] = cv2.inpaint(base[y0:y1, x0:x1], hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        else:
            fill = inpainter(base, full_hole).image
        f = fall[..., None]
        result = np.clip(np.round(f * fill[y0:y1, x0:x1] + (1 - f) * restored), 0, 255).astype(np.uint8)
        filled[y0:y1, x0:x1] = fall
    out[y0:y1, x0:x1] = result
    return Restored(out, filled, box)


FIT_SHIFT = 1.0  # px: how far fit_to_photo may move the mark on one photo
FIT_SHARPEN = (-0.6, 1.5)  # how much it may blur (< 0) or sharpen (> 0) the mark's edges


def fit_to_photo(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray,
                 enlarged: float = 1.0) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The mark as placed (``alpha``, ``colour``: the photo's size) refined
    on this photo: a sub-pixel shift, a sharpening or blur of its edges and
    an opacity scale, chosen so the inverted photo is smoothest over the
    mark (least total variation: a mark a fraction of a pixel off, blurrier
    or sharper than in the photo, leaves its outline in the inversion, light
    on one side and dark on the other). Why: the mark is estimated in one
    frame and resampled to each photo, and export tools round each photo's
    mark to whole pixels and scale it their own way; the remaining error sits
    on the mark's edges, as specks and outlines. (An opacity scale as a
    third parameter went to its bound on every photo: lower opacity always
    looks smoother.) Returns (alpha, colour, (dx, dy, sharpen)). ``enlarged``: how many of this photo's pixels
    one pixel of the estimate's frame spans (the blur to undo is that wide)."""
    from scipy.optimize import minimize

    box = box_around(alpha > 0, 4)
    if box is None:
        return alpha, colour, (0.0, 0.0, 0.0)
    x0, y0, x1, y1 = box
    J = image[y0:y1, x0:x1].astype(np.float32)
    a0 = np.ascontiguousarray(alpha[y0:y1, x0:x1], np.float32)
    aw0 = np.ascontiguousarray(a0[..., None] * colour[y0:y1, x0:x1], np.float32)
    zone = cv2.dilate((a0 > MASK_ALPHA).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & (a0 < FALLBACK_FROM)
    if zone.sum() < 20:
        return alpha, colour, (0.0, 0.0, 0.0)
    h, w = a0.shape
    sigma = 0.8 * max(1.0, enlarged)

    def make(p):
        dx, dy, sharpen = p
        m = np.array([[1, 0, -dx], [0, 1, -dy]], np.float64)
        a = cv2.warpAffine(a0, m, (w, h), flags=cv2.INTER_CUBIC, borderValue=0)
        aw = cv2.warpAffine(aw0, m, (w, h), flags=cv2.INTER_CUBIC, borderValue=0)
        if sharpen:
            a = a + sharpen * (a - cv2.GaussianBlur(a, (0, 0), sigma))
            aw = aw + sharpen * (aw - cv2.GaussianBlur(aw, (0, 0), sigma))
        a = np.clip(a, 0, 0.98)
        aw = np.clip(aw, 0, 255)
        return a, aw

    def energy(p) -> float:
        a, aw = make(p)
        inv = (J - aw) / np.maximum(1 - a, 1 - OPAQUE)[..., None]
        gx = np.zeros_like(inv)
        gy = np.zeros_like(inv)
        gx[:, :-1] = inv[:, 1:] - inv[:, :-1]
        gy[:-1] = inv[1:] - inv[:-1]
        # times 1 - alpha: the inversion's own gain on the content's edges is no evidence either way
        return float((np.sqrt((gx * gx + gy * gy).sum(-1) + 1.0) * (1 - a))[zone].sum())

    start = np.zeros(3)
    found = minimize(energy, start, method="Powell",
                     bounds=[(-FIT_SHIFT, FIT_SHIFT), (-FIT_SHIFT, FIT_SHIFT), FIT_SHARPEN],
                     options={"xtol": 0.05, "ftol": 1e-3, "maxfev": 60})
    if found.fun >= energy(start):
        return alpha, colour, (0.0, 0.0, 0.0)
    a, aw = make(found.x)
    a[a < 0.005] = 0
    out_a = alpha.copy()
    out_c = colour.copy()
    out_a[y0:y1, x0:x1] = a
    out_c[y0:y1, x0:x1] = np.where(a[..., None] > 0, np.clip(aw / np.maximum(a, 1e-3)[..., None], 0, 255), 0)
    return out_a, out_c, tuple(float(v) for v in found.x)
