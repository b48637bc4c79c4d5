"""The mark of a folder of many photo sizes, at the resolution of its
largest photos (``matte_over_sizes``).

An export tool scales its logo to each photo, so a photo of each size shows
the logo area-sampled at its own scale. The first estimate is made in one
frame (a photo size near the top of the folder's); mapped up to the largest
photos it is blurred (enlarging cannot bring the thin strokes' edges back)
and mapped down it inherits the blur of the smaller photos enlarged into
it. Here the opacity is estimated at the largest photos' pixels, ``A``,
such that every photo's mark region, at its own pixels, is explained by
``A`` area-sampled to its size (``D_s A``):

1. evidence, per photo at its own pixels: the content under the mark is
   predicted from the photo's own unmarked pixels around it (harmonic
   interpolation ``P``), so ``alpha = (J - P) . (W - P) / |W - P|^2``
   (``W``: the mark's colour nearby, from the first estimate); trusted
   where the content around is smooth, the mark stands out from it and the
   pixel lies near the mark's outline (deep inside a large shape the
   prediction is a guess); pooled over the photos of each size and mixed
   with the first estimate at that size (weight BETA);
2. ``A`` is the least-squares fit of all sizes at once (conjugate
   gradients; a little smoothness where no size says anything);
3. each size is lined up again with its own evidence (ECC, a shift and a
   scale per axis: export tools round each photo's mark box to whole
   pixels) and 1-2 repeated;
4. the colour ``W`` is pooled the same way with ``A`` known,
   ``W = sum alpha (J - (1 - alpha) P) / sum alpha^2`` per size, and
   fitted at the largest photos' pixels as ``A`` was.

On the benchmark's mixed folder (30 photos, 5 sizes, 0.3-12 MP) the
mapped-back alpha error went from 0.021-0.052 (the first estimate, at
1200x800) to 0.015-0.026, and the 12 MP photos' mark box from 27.7 to
33.6 dB (OpenCV's fill, outputs not re-encoded).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import cv2
import numpy as np

from .watermark_matte import harmonic_fill, local_colour
from .watermark_model import MASK_ALPHA
from .watermark_options import MIN_PHOTOS
from .watermark_placement import (Placement, area_weights, invert_map, reference_length, rule_map, warp)

BETA = 0.5  # weight of the first estimate against the evidence of one well-predicted photo
NEAR = 1.5  # px: a photo's prediction of the content under the mark is trusted about this far inside it (3: +0.001 of alpha error)
SMOOTH = 0.02  # weight of the smoothness term, where no size says anything
REGISTER_ROUNDS = 3  # fits of alpha, each size lined up again between them
MARGIN = 10  # px around the mark's box at the largest photos' pixels
CG_STEPS = 300  # conjugate gradient steps per fit


def chain(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2 x 3 affine ``outer(inner(x))``."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])


@dataclass
class _Size:
    """The photos of one size: their crops around the mark (0..1, at their
    own pixels), how the largest photos' frame maps onto them, and what the
    current round found there."""

    size: tuple[int, int]
    to_size: np.ndarray  # 2 x 3: frame index -> this size's index
    box: tuple[int, int, int, int]  # the crops' box in this size's pixels
    crops: list = field(default_factory=list)
    preds: list = field(default_factory=list)  # each crop's content predicted under the mark
    down: Callable | None = None  # frame box -> this size's crop (area sampling)
    up: Callable | None = None  # its transpose
    support: np.ndarray | None = None  # where the mark may be (the first estimate, grown 2 px)
    trust: list = field(default_factory=list)  # per crop, how far its prediction holds (``_trust``)
    evidence: np.ndarray | None = None  # alpha at this size: the photos' pooled with the first estimate
    weight: np.ndarray | None = None

    def set_operators(self, frame_box: tuple[int, int, int, int]) -> None:
        fx0, fy0, fx1, fy1 = frame_box
        x0, y0, x1, y1 = self.box
        back = invert_map(self.to_size)  # this size's index -> frame index
        wx = area_weights(x1 - x0, fx1 - fx0, back[0, 0], back[0, 0] * x0 + back[0, 2] - fx0)
        wy = area_weights(y1 - y0, fy1 - fy0, back[1, 1], back[1, 1] * y0 + back[1, 2] - fy0)
        self.down = lambda z: (wx @ (wy @ z).T).T
        self.up = lambda z: wy.T @ (wx.T @ z.T).T


def _solve(terms: list, prior: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``x`` minimising ``sum w (D x - v)^2 + SMOOTH |grad x|^2 + 1e-3 |x - prior|^2``
    over ``terms`` (D, D transposed, v, w)."""
    h, w = prior.shape
    tiny = 1e-3

    def normal(flat: np.ndarray) -> np.ndarray:
        z = flat.reshape(h, w).astype(np.float64)
        out = tiny * z
        dx, dy = z[:, 1:] - z[:, :-1], z[1:] - z[:-1]
        out[:, 1:] += SMOOTH * dx
        out[:, :-1] -= SMOOTH * dx
        out[1:] += SMOOTH * dy
        out[:-1] -= SMOOTH * dy
        for d, dt, _, weight in terms:
            out += dt(weight * d(z))
        return out.ravel()

    rhs = tiny * prior
    for _, dt, value, weight in terms:
        rhs = rhs + dt(weight * value)
    return conjugate_gradients(normal, rhs.ravel(), start.ravel()).reshape(h, w)


def conjugate_gradients(normal: Callable, rhs: np.ndarray, x: np.ndarray, steps: int = CG_STEPS,
                        tol: float = 1e-5) -> np.ndarray:
    """Solve ``normal(x) = rhs`` (symmetric positive definite) from ``x``.
    (Dot products as sums: BLAS's threads cost 10 ms a step here on a busy
    machine.)"""
    def dot(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.multiply(a, b).sum())

    x = x.astype(np.float64)
    r = rhs - normal(x)
    p = r.copy()
    rr = dot(r, r)
    stop = tol * tol * dot(rhs, rhs)
    for _ in range(steps):
        if rr <= stop:
            break
        q = normal(p)
        step = rr / dot(p, q)
        x += step * p
        r -= step * q
        rr, rr_old = dot(r, r), rr
        p = r + (rr / rr_old) * p
    return x


def _trust(crop: np.ndarray, support: np.ndarray) -> np.ndarray:
    """How far the harmonic prediction of ``crop`` under ``support`` holds,
    per pixel: smooth surroundings (1 / (roughness^2 + 0.02^2), as
    ``_pooled_matte``) and near the mark's outline (falling with the depth
    inside it: deep inside a large shape the prediction is a guess)."""
    outside = (~support).astype(np.float64)
    count = np.maximum(cv2.boxFilter(outside, -1, (9, 9), normalize=False), 1)
    depth = cv2.distanceTransform(support.astype(np.uint8), cv2.DIST_L2, 3)
    lap = np.abs(cv2.Laplacian(crop.mean(-1), cv2.CV_64F)) * outside
    rough = cv2.boxFilter(lap, -1, (9, 9), normalize=False) / count
    return 1 / (rough * rough + 0.02 ** 2) / (1 + (depth / NEAR) ** 2) * support


def _alpha_evidence(g: _Size, prior_a: np.ndarray, prior_aw: np.ndarray) -> None:
    """Each photo of ``g`` matted on its own, pooled (``g.evidence``, ``g.weight``, unnormalised)."""
    prior = g.down(prior_a)
    g.support = cv2.dilate((prior > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    mark_w = local_colour(np.stack([g.down(prior_aw[..., c]) for c in range(3)], -1) /
                          np.maximum(prior, 1e-3)[..., None], (prior > 0.2) & g.support, g.support)
    known = np.isfinite(mark_w).all(-1) & g.support
    mark_w = np.clip(np.where(known[..., None], mark_w, 0), 0, 1)
    total, weighted = np.zeros(prior.shape), np.zeros(prior.shape)
    g.preds, g.trust = [], []
    for crop in g.crops:
        pred = harmonic_fill(crop, g.support).astype(np.float64)
        trust = _trust(crop, g.support)
        g.preds.append(pred)
        g.trust.append(trust)
        diff = mark_w - pred
        dd = (diff * diff).sum(-1)
        a_k = ((crop - pred) * diff).sum(-1) / np.maximum(dd, 1e-6)
        weight = trust * dd * known
        total += weight
        weighted += weight * np.clip(a_k, -0.5, 1.5)
    g.evidence, g.weight = (weighted, prior), total


def _register(group: _Size, model: np.ndarray, evidence: np.ndarray) -> None:
    """Move and scale ``group``'s map so that the fit (``model``, at its
    pixels) lines up with its own ``evidence`` (ECC: a shift, and with
    MIN_PHOTOS photos or more a scale per axis: an export tool rounds each
    photo's mark box to whole pixels, its height apart from its width; from
    fewer photos the evidence is too noisy to set a scale: 3 photos of
    450x300 went from 0.030 to 0.045 of alpha error); left as it is when
    that fails or moves a corner more than 2 px."""
    found = np.eye(2, 3, dtype=np.float32)
    motion = cv2.MOTION_AFFINE if len(group.crops) >= MIN_PHOTOS else cv2.MOTION_TRANSLATION
    try:
        _, found = cv2.findTransformECC(model.astype(np.float32), evidence.astype(np.float32), found, motion,
                                        (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6), None, 1)
    except cv2.error:
        return
    h, w = model.shape
    sx, sy, tx, ty = float(found[0, 0]), float(found[1, 1]), float(found[0, 2]), float(found[1, 2])
    if max(abs(tx), abs(ty), abs(sx * w + tx - w), abs(sy * h + ty - h)) > 2:
        return
    # the evidence at crop pixel (sx x + tx, sy y + ty) shows what the fit has at (x, y)
    x0, y0 = group.box[:2]
    moved = np.array([[sx, 0, tx + x0 - sx * x0], [0, sy, ty + y0 - sy * y0]])  # this size's index, fit -> evidence
    group.to_size = chain(moved, group.to_size)


def matte_over_sizes(sources: Sequence[tuple], maps: dict, alpha: np.ndarray, colour: np.ndarray,
                     rule: Placement, frame_size: tuple[int, int]):
    """The mark at the pixels of the largest photos of ``sources`` ((path,
    size, crop origin, uint8 crop at the photo's own pixels) of the photos
    carrying the mark), from ``alpha`` and ``colour`` estimated in the frame
    of ``frame_size`` and ``maps`` (size -> 2 x 3, frame index -> that size's
    index). Returns (alpha, colour, the largest size, its maps per size)."""
    hi = max({s for _, s, _, _ in sources}, key=lambda s: (reference_length(rule.reference, *s), s))
    to_frame = rule_map(rule, hi, frame_size)  # largest photos' index -> frame index
    ys, xs = np.nonzero(alpha > 0)
    corners = np.array([[xs.min(), ys.min(), 1], [xs.max() + 1, ys.max() + 1, 1]], np.float64) @ invert_map(to_frame).T
    frame_box = (max(0, int(np.floor(corners[0, 0])) - MARGIN), max(0, int(np.floor(corners[0, 1])) - MARGIN),
                 min(hi[0], int(np.ceil(corners[1, 0])) + MARGIN), min(hi[1], int(np.ceil(corners[1, 1])) + MARGIN))
    fx0, fy0, fx1, fy1 = frame_box
    prior_a = warp(alpha, to_frame, frame_box).astype(np.float64)
    prior_aw = warp(alpha[..., None] * colour / 255, to_frame, frame_box).astype(np.float64)
    prior_w = np.clip(prior_aw / np.maximum(prior_a, 1e-3)[..., None], 0, 1)

    groups: dict[tuple[int, int], _Size] = {}
    for _, size, (ox, oy), src in sources:
        if size not in groups:
            to_size = chain(maps[size], to_frame)
            at = np.array([[fx0, fy0, 1], [fx1, fy1, 1]], np.float64) @ to_size.T
            box = (max(ox, int(np.floor(at[0, 0])) - 3), max(oy, int(np.floor(at[0, 1])) - 3),
                   min(ox + src.shape[1], int(np.ceil(at[1, 0])) + 3),
                   min(oy + src.shape[0], int(np.ceil(at[1, 1])) + 3))
            groups[size] = _Size(size, to_size, box)
        g = groups[size]
        x0, y0, x1, y1 = g.box
        g.crops.append(src[y0 - oy:y1 - oy, x0 - ox:x1 - ox].astype(np.float64) / 255)
    groups = {s: g for s, g in groups.items() if min(g.box[2] - g.box[0], g.box[3] - g.box[1]) >= 8}
    fits = {size: chain(m, to_frame) for size, m in maps.items()}

    a_hi = prior_a
    for round_ in range(REGISTER_ROUNDS):
        for g in groups.values():
            g.set_operators(frame_box)
            _alpha_evidence(g, prior_a, prior_aw)
        unit = float(np.median(np.concatenate([g.weight[g.weight > 0] for g in groups.values()])))
        terms = []
        for g in groups.values():
            weighted, prior = g.evidence
            g.evidence = np.clip((weighted / unit + BETA * prior) / (g.weight / unit + BETA), 0, 1)
            g.weight = (g.weight / unit + BETA) * g.support + 1e-3
            terms.append((g.down, g.up, g.evidence, g.weight))
        a_hi = _solve(terms, prior_a, a_hi)
        if round_ < REGISTER_ROUNDS - 1:
            for g in groups.values():
                _register(g, g.down(a_hi), g.evidence)
    a_hi = np.clip(a_hi, 0, 0.98)

    # the colour with alpha known: W = sum q alpha (J - (1 - alpha) P) / sum q alpha^2 per size
    sums = []
    for g in groups.values():
        a = np.clip(g.down(a_hi), 0, 0.98)
        num, den = np.zeros(a.shape + (3,)), np.zeros(a.shape)
        for crop, pred, trust in zip(g.crops, g.preds, g.trust):
            q = trust * a
            num += q[..., None] * (crop - (1 - a)[..., None] * pred)
            den += q * a
        sums.append((g, num, den))
    unit = float(np.median(np.concatenate([den[den > 0] for _, _, den in sums])))
    w_hi = np.zeros(prior_w.shape)
    for c in range(3):
        terms = []
        for g, num, den in sums:
            prior = g.down(prior_w[..., c])
            terms.append((g.down, g.up, (num[..., c] / unit + prior) / (den / unit + 1),
                          (den / unit + 1) * g.support + 1e-3))
        w_hi[..., c] = _solve(terms, prior_w[..., c], prior_w[..., c])

    out_a = np.zeros((hi[1], hi[0]), np.float32)
    out_c = np.zeros((hi[1], hi[0], 3), np.float32)
    keep = a_hi >= MASK_ALPHA
    out_a[fy0:fy1, fx0:fx1] = np.where(keep, a_hi, 0)
    out_c[fy0:fy1, fx0:fx1] = np.where(keep[..., None], np.clip(w_hi, 0, 1) * 255, 0)
    fits.update({s: g.to_size for s, g in groups.items()})
    return out_a, out_c, hi, fits
