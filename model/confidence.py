"""How much to trust a removal, from what the model already produced: a
score in (0, 1], low = look at this result first (the batch review list
sorts by it, worst first; ``batch --report`` records it per photo).

A good fill looks like its surroundings. For each removed region, the fill
is compared with the ring of known pixels just around it:

* colour: how far the fill's mean colour (CIELAB) is from the ring's, in
  units of the ring's own spread;
* texture: how far the fill's gradient energy strays from the ring's (log
  ratio), e.g. a flat patch in grass, or noise in a clear sky;
* seam: how much stronger the edges along the hole's outline are than the
  edges inside the ring (a visible border);
* agreement: how far the coarse and refined stages disagree, in the same
  units as colour (two stages that disagree a lot are guessing); 0 for a
  fill without a coarse stage (a classical fill, the watermark restorer).

Each term is a non-negative "surprise"; the score is ``exp(-sum)``, taken
for the worst region (of those big enough to matter). Its cost is bounded:
the ``MAX_REGIONS`` largest regions are judged one by one, any others
together as one (a field of 90,000 dust specks took 23 s one by one). It
ranks results; it is not a calibrated probability.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

WEIGHTS = {"colour": 0.5, "texture": 0.8, "seam": 0.4, "agreement": 0.5}
MIN_REGION = 16  # pixels; smaller specks do not decide the score
MAX_REGIONS = 32  # regions judged one by one; the rest together


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2LAB).astype(np.float32)


def _gradient(lab: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1, ksize=3)
    return np.hypot(gx, gy)


def region_terms(image: np.ndarray, hole: np.ndarray, refined: np.ndarray,
                 coarse: np.ndarray | None = None) -> dict[str, float]:
    """The surprise terms for one region ``hole`` (bool) of a result."""
    area = int(hole.sum())
    width = int(np.clip(round(0.25 * math.sqrt(area)), 4, 40))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    hole_u8 = hole.astype(np.uint8)
    ring = cv2.dilate(hole_u8, kernel).astype(bool) & ~hole
    if ring.sum() < 8:  # the hole covers (almost) the whole photo: nothing to compare with
        return {k: 0.0 for k in WEIGHTS}
    lab_known = _lab(image)
    lab_fill = _lab(refined)
    ring_px, fill_px = lab_known[ring], lab_fill[hole]
    spread = float(np.sqrt(ring_px.var(axis=0).sum())) + 6.0
    colour = float(np.linalg.norm(fill_px.mean(axis=0) - ring_px.mean(axis=0))) / spread

    g_known = _gradient(lab_known)
    g_fill = _gradient(lab_fill)
    inner = cv2.erode(hole_u8, np.ones((3, 3), np.uint8)).astype(bool)  # the fill's own texture, not its border
    fill_g = float(g_fill[inner].mean()) if inner.any() else float(g_fill[hole].mean())
    ring_g = float(g_known[ring].mean())
    texture = abs(math.log((fill_g + 4.0) / (ring_g + 4.0)))

    outline = (cv2.dilate(hole_u8, np.ones((3, 3), np.uint8)) - cv2.erode(hole_u8, np.ones((3, 3), np.uint8))) > 0
    seam_g = float(g_fill[outline].mean()) if outline.any() else 0.0
    seam = max(0.0, math.log((seam_g + 4.0) / (ring_g + 4.0)))

    agreement = 0.0
    if coarse is not None:
        diff = np.abs(_lab(coarse)[hole] - lab_fill[hole]).mean(axis=0)
        agreement = float(np.linalg.norm(diff)) / spread
    return {"colour": colour, "texture": texture, "seam": seam, "agreement": agreement}


def fill_confidence(image: np.ndarray, hole: np.ndarray, refined: np.ndarray,
                    coarse: np.ndarray | None = None, max_pixels: int = 2_000_000) -> float:
    """Confidence in (0, 1] of ``refined`` (the photo after removal) given the
    photo before (``image``), the removed region (``hole``, bool) and the
    coarse stage (None for a fill without one); 1.0 when nothing was removed. Photos above ``max_pixels``
    are judged on a reduced copy (the statistics barely change, the cost does)."""
    hole = np.asarray(hole, bool)
    if not hole.any():
        return 1.0
    h, w = hole.shape
    if h * w > max_pixels:
        s = math.sqrt(max_pixels / (h * w))
        size = (max(1, round(w * s)), max(1, round(h * s)))
        image, refined = (cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in (image, refined))
        coarse = None if coarse is None else cv2.resize(coarse, size, interpolation=cv2.INTER_AREA)
        hole = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        if not hole.any():
            return 1.0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    areas = stats[1:n, cv2.CC_STAT_AREA]
    ids = [i + 1 for i in np.flatnonzero(areas >= MIN_REGION)] or list(range(1, n))
    worst = 0.0
    if len(ids) > MAX_REGIONS:
        ids = sorted(ids, key=lambda i: -stats[i, cv2.CC_STAT_AREA])
        rest = np.isin(labels, ids[MAX_REGIONS:])
        ids = ids[:MAX_REGIONS]
        terms = region_terms(image, rest, refined, coarse)  # the many small ones, as one region
        worst = sum(WEIGHTS[k] * v for k, v in terms.items())
    for i in ids:
        x, y, bw, bh, _ = stats[i]
        pad = max(bw, bh) // 2 + 48  # room for the ring
        y0, y1, x0, x1 = max(0, y - pad), min(hole.shape[0], y + bh + pad), max(0, x - pad), min(hole.shape[1], x + bw + pad)
        region = labels[y0:y1, x0:x1] == i
        terms = region_terms(image[y0:y1, x0:x1], region, refined[y0:y1, x0:x1],
                             None if coarse is None else coarse[y0:y1, x0:x1])
        worst = max(worst, sum(WEIGHTS[k] * v for k, v in terms.items()))
    return float(math.exp(-worst))
