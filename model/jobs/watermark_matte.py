"""The mark's opacity and colour from the photos' crops around it (all at
one size, in one frame): at one pixel the blend maps every photo's value by
the same affine map, so over the collection the mark scales the spread of
the values by ``1 - alpha`` and shifts their mean by ``alpha * W``. The
spread and mean the photos would have there without the mark are
interpolated (harmonic, in log spread) from the unmarked pixels around the
region; the ratio of spreads gives ``alpha`` (one per pixel, shared by the
channels), the means then give ``alpha * W``; then each photo is matted on
its own and the results pooled (``_pooled_matte``).

Photos without the mark: each photo must show the estimate's edges more as
it is than with the mark taken out (``carries_mark``); those that do not
are left out and the estimate is made again (``matte_marked``; a folder
where they share another mark is refused).
"""
from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .watermark_model import MASK_ALPHA, NO_MARK, OPAQUE, NoWatermarkError, Watermark, describe, tight_mask
from .watermark_options import MIN_PHOTOS
from .watermark_placement import gradient_magnitude

MEAN_MIX = 0.7  # weight of the mean-based alpha where the mark's colour is far from the content's
MIN_EVIDENCE = 0.3  # median over the photos of mark_evidence for a mark (and each part of it) to count as shared
MIN_PART = 12  # px: a part of the estimate smaller than this, over 8 px from any other, is a speck


def _edges(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4-neighbour pixel pairs (flat indices) of the crop with at least one
    end in ``region``."""
    h, w = region.shape
    idx = np.arange(h * w).reshape(h, w)
    pairs = []
    for p, q, rp, rq in ((idx[:, :-1], idx[:, 1:], region[:, :-1], region[:, 1:]),
                         (idx[:-1, :], idx[1:, :], region[:-1, :], region[1:, :])):
        keep = rp | rq
        pairs.append((p[keep], q[keep]))
    return np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])


def harmonic_fill(values: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``values`` (H x W or H x W x C) with the ``region`` pixels replaced by
    the harmonic (membrane) interpolation of the pixels around it."""
    h, w = region.shape
    out = np.array(values, np.float64, copy=True)
    m = int(region.sum())
    if m == 0:
        return out.astype(np.float32)
    var = -np.ones(h * w, np.int64)
    var[region.ravel()] = np.arange(m)
    P, Q = _edges(region)
    flat = out.reshape(h * w, -1)
    rows, cols, vals = [], [], []
    rhs = np.zeros((m, flat.shape[1]))
    for p, q in ((P, Q), (Q, P)):
        vp, vq = var[p], var[q]
        ok = vp >= 0
        rows.append(vp[ok]), cols.append(vp[ok]), vals.append(np.ones(ok.sum()))
        inner = ok & (vq >= 0)
        rows.append(vp[inner]), cols.append(vq[inner]), vals.append(-np.ones(inner.sum()))
        outer = ok & (vq < 0)
        np.add.at(rhs, vp[outer], flat[q[outer]])
    A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)).tocsc()
    sol = spla.splu(A).solve(rhs)
    flat[region.ravel()] = sol
    return flat.reshape(out.shape).astype(np.float32)


def moments_unblend(mean: np.ndarray, std: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """alpha (H x W) and alpha*W (H x W x C, 0..1) from the photos' per-pixel
    mean and standard deviation (H x W x C, over the collection, 0..1),
    matched to those interpolated from around ``region``."""
    mean = np.asarray(mean, np.float64)
    log_sd = np.log(np.asarray(std, np.float64) + 1e-4)
    s = np.exp((log_sd - harmonic_fill(log_sd, region)).mean(-1))
    s = np.clip(s, 1 - 0.98, 1.0)
    s[~region] = 1.0
    c = mean - s[..., None] * harmonic_fill(mean, region)
    c[~region] = 0
    return (1 - s).astype(np.float32), c.astype(np.float32)


class Moments:
    """Running per-pixel mean and standard deviation of crops."""

    def __init__(self) -> None:
        self.n, self.s1, self.s2 = 0, 0.0, 0.0

    def add(self, crop: np.ndarray) -> None:
        x = crop.astype(np.float64) / 255
        self.n += 1
        self.s1 = self.s1 + x
        self.s2 = self.s2 + x * x

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.s1 / self.n
        return mean, np.sqrt(np.maximum(self.s2 / self.n - mean * mean, 0))


def local_colour(colour: np.ndarray, known: np.ndarray, where: np.ndarray, size: int = 7) -> np.ndarray:
    """Per pixel of ``where``: the median of ``colour`` over the ``known``
    pixels of a ``size`` x ``size`` window (NaN where there are none)."""
    r = size // 2
    padded = np.pad(np.where(known[..., None], colour, np.nan), ((r, r), (r, r), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(0, 1))  # H x W x C x s x s
    ys, xs = np.nonzero(where)
    out = np.full(colour.shape, np.nan)
    if len(ys):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            out[ys, xs] = np.nanmedian(windows[ys, xs].reshape(len(ys), colour.shape[-1], -1), axis=-1)
    return out


def _two_pass(moments: Moments, region: np.ndarray, crops: Sequence[np.ndarray] = (),
              sharpness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Estimate in the detected region, then again in the tighter support
    that found (alpha > 0.08, grown 1 px): the unmarked pixels around the
    mark then lie closer, so the interpolated mean and spread are better.
    Then a second estimate of alpha from the mean alone, ``(mean_J -
    mean_I) / (W - mean_I)`` with ``W`` the mark's colour nearby (median
    over a 7 x 7 window), is mixed in where ``W`` differs clearly from the
    photos' mean. Last, with ``crops`` (the photos' uint8 crops), alpha is
    re-estimated photo by photo and pooled (``_pooled_matte``), and so is
    alpha * W. On the 24
    benchmark photos the mean alpha error goes 0.025 (spread) -> 0.019
    (mixed) -> 0.013 (pooled)."""
    mean, std = moments.result()
    a, _ = moments_unblend(mean, std, region)
    support = tight_mask(a, 0.08, 1) & region
    a, c = moments_unblend(mean, std, support)
    mu_i = harmonic_fill(mean, support).astype(np.float64)
    strong = (a > 0.2) & support
    w_local = local_colour(c / np.maximum(a, 1e-3)[..., None], strong, support)
    d = w_local - mu_i
    ok = np.isfinite(d).all(-1) & support
    d = np.where(ok[..., None], d, 0)
    a_mean = np.clip(((mean - mu_i) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-6), 0, 0.98)
    trust = MEAN_MIX * np.clip((d * d).sum(-1) / 0.1, 0, 1) * ok
    a = ((1 - trust) * a + trust * a_mean) * support
    c = (mean - (1 - a)[..., None] * mu_i) * support[..., None]
    if len(crops) >= MIN_PHOTOS:
        a, c = _pooled_matte(crops, support, a, c, sharpness=sharpness)
    return a.astype(np.float32), c.astype(np.float32)


def _pooled_matte(crops: Sequence[np.ndarray], support: np.ndarray, a: np.ndarray, c: np.ndarray,
                  chunk: int = 16, sharpness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and alpha * W matted photo by photo and pooled over the
    collection: in photo k, what the pixel would be without the mark is
    predicted by harmonic interpolation ``P_k`` of its own unmarked
    surroundings, so ``alpha_k = (J_k - P_k) . (W - P_k) / |W - P_k|^2``
    (``W``: the mark's colour nearby, from the current estimate) and
    ``(alpha * W)_k = J_k - (1 - alpha) P_k``. A photo counts where its
    prediction is good (smooth content around: weight 1 / (roughness^2 +
    0.02^2)); for alpha also where the mark stands out from it (times
    ``|W - P_k|^2``). The weights favour, at each pixel, the photos where
    the mark is plainest, which the per-pixel statistics (the unweighted
    mean of the same sums) cannot. ``c``: alpha * W, 0..1."""
    colour = np.clip(c / np.maximum(a, 1e-3)[..., None], 0, 1)
    w_local = local_colour(colour, (a > 0.2) & support, support)
    known = np.isfinite(w_local).all(-1) & support
    if not known.any():
        return a, c
    w_local = np.where(known[..., None], w_local, 0)
    outside = (~support).astype(np.float64)
    count = np.maximum(cv2.boxFilter(outside, -1, (9, 9), normalize=False), 1)
    num = np.zeros(support.shape)
    den = np.zeros(support.shape)
    sum_j = np.zeros(support.shape + (3,))  # sums weighted by prediction quality alone
    sum_p = np.zeros(support.shape + (3,))
    sum_w = np.zeros(support.shape)
    for i in range(0, len(crops), chunk):
        part = np.stack(crops[i:i + chunk]).astype(np.float64) / 255  # k x H x W x 3
        k, h, w, ch = part.shape
        pred = harmonic_fill(np.moveaxis(part, 0, -1).reshape(h, w, ch * k), support)
        pred = np.moveaxis(pred.reshape(h, w, ch, k), -1, 0).astype(np.float64)
        for j in range(k):
            d = w_local - pred[j]
            dd = (d * d).sum(-1)
            a_k = ((part[j] - pred[j]) * d).sum(-1) / np.maximum(dd, 1e-6)
            lap = np.abs(cv2.Laplacian(part[j].mean(-1), cv2.CV_64F)) * outside
            rough = cv2.boxFilter(lap, -1, (9, 9), normalize=False) / count
            quality = 1 / (rough * rough + 0.02 ** 2)
            if sharpness is not None:  # a photo enlarged into the frame: its detail is blurred
                quality = quality * sharpness[i + j]
            num += quality * dd * a_k
            den += quality * dd
            sum_j += quality[..., None] * part[j]
            sum_p += quality[..., None] * pred[j]
            sum_w += quality
    a = np.where(known, np.clip(num / np.maximum(den, 1e-9), 0, 0.98), a) * support
    pooled_c = (sum_j - (1 - a)[..., None] * sum_p) / np.maximum(sum_w, 1e-9)[..., None]
    c = np.where(known[..., None], pooled_c, c) * support[..., None]
    return a, c


def _finish(alpha_crop: np.ndarray, c_crop: np.ndarray, box, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Full-size alpha and colour from the crop's alpha and alpha*W (0..1):
    alpha below the estimation noise (MASK_ALPHA) set to 0, colour = alpha*W / alpha."""
    w, h = size
    alpha = np.zeros((h, w), np.float32)
    colour = np.zeros((h, w, 3), np.float32)
    a = np.where(alpha_crop >= MASK_ALPHA, alpha_crop, 0).astype(np.float32)
    col = np.where(a[..., None] > 0, np.clip(c_crop * 255 / np.maximum(a, 1e-3)[..., None], 0, 255), 0)
    x0, y0, x1, y1 = box
    alpha[y0:y1, x0:x1] = a
    colour[y0:y1, x0:x1] = col
    return alpha, colour


def edge_strength(image: np.ndarray) -> np.ndarray:
    """Per pixel, the largest gradient magnitude over the channels."""
    image = image.astype(np.float32)
    planes = [image] if image.ndim == 2 else [image[..., i] for i in range(image.shape[2])]
    return np.max([gradient_magnitude(p) for p in planes], 0)


def mark_evidence(alpha: np.ndarray, colour: np.ndarray, crops: Sequence[np.ndarray]) -> np.ndarray:
    """Per photo, how plainly it shows the estimated mark: the correlation
    of its edge strength with the mark's (alpha's and alpha * W's) over the
    mark and 3 px around it. A shared mark shows in every photo (0.5-0.9 on
    the benchmark's photos); edges that a few photos share by chance, which
    the estimate from a small folder can take for a mark, do not (below 0.4,
    median about 0.1)."""
    mark = edge_strength(alpha * 255) + edge_strength(alpha[..., None] * colour)
    zone = cv2.dilate((alpha > MASK_ALPHA).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    x = mark[zone] - mark[zone].mean()
    out = []
    for crop in crops:
        y = edge_strength(crop)[zone]
        y = y - y.mean()
        out.append(float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum() + 1e-9)))
    return np.array(out)


def roughness(image: np.ndarray, weight: np.ndarray, zone: np.ndarray) -> float:
    """Total variation of ``image`` (H x W x C) over ``zone``, each pixel's
    weighted by ``weight``."""
    x = image.astype(np.float32)
    gx, gy = np.zeros_like(x), np.zeros_like(x)
    gx[:, :-1] = x[:, 1:] - x[:, :-1]
    gy[:-1] = x[1:] - x[:-1]
    return float((np.sqrt((gx * gx + gy * gy).sum(-1) + 1.0) * weight)[zone].sum())


def carries_mark(alpha: np.ndarray, colour: np.ndarray, image: np.ndarray) -> tuple[bool, float, float]:
    """Whether ``image`` (RGB, the size of ``alpha``; any crop around the
    mark) carries the mark: taking the mark out makes it smoother over and
    around the mark (total variation, each pixel's weighted by ``1 - alpha``
    so the inversion's gain on the content's own edges and noise counts for
    nothing). Taken out of a photo that carries it, the mark's edges go;
    taken out of one that does not, they appear (inverted); no threshold to
    tune. (Comparing how much the edges follow the mark's before and after
    took a photo under the true mark for one without it when the inversion
    amplified its textured content: 0.65 before, 0.81 after.) Returns
    (carries, roughness as is, roughness with the mark taken out), both per
    pixel of the zone."""
    zone = cv2.dilate((alpha > MASK_ALPHA).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    count = max(1, int(zone.sum()))

    def taken_out(share: float) -> float:
        a = np.minimum(alpha * share, OPAQUE)
        # not clipped: a mark taken out of a photo that lacks it sends dark content below 0, and
        # clipping would flatten that into a smooth black
        inverted = (image.astype(np.float32) - a[..., None] * colour) / (1 - a)[..., None]
        return roughness(inverted, 1 - a, zone) / count

    before = taken_out(0.0)
    after = min(taken_out(0.5), taken_out(1.0))  # half: a mark blurred by enlarging still smooths some
    return bool(after < before), before, after


def drop_unshared_parts(alpha: np.ndarray, colour: np.ndarray, crops: Sequence[np.ndarray]) -> None:
    """Zero, in place, the parts of the estimate that most photos do not
    show (median ``mark_evidence`` below MIN_EVIDENCE, each part judged on
    its own). A small folder with many smooth photos (sky, fog) lets chance
    edges that a few textured ones share pass the region's noise bound:
    specks across a dock's planks, say, beside a real mark. Measured on
    such a folder of 7 photos: the mark's letters 0.75-0.94, the specks
    -0.16 to 0.23. ``alpha``, ``colour``, ``crops``: in the mark's box."""
    if not len(crops):
        return
    present = alpha > 0  # _finish zeroed alpha below MASK_ALPHA
    # fragments up to 8 px apart are one part (a letter and its halo)
    near = cv2.dilate(present.astype(np.uint8), np.ones((9, 9), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    if count <= 2:  # one part: the whole mark's evidence is checked by _check_found
        return
    h, w = alpha.shape
    for i in range(1, count):
        x, y, bw, bh, _ = stats[i]
        ys, xs = slice(max(0, y - 4), min(h, y + bh + 4)), slice(max(0, x - 4), min(w, x + bw + 4))
        part = labels[ys, xs] == i
        part_alpha = np.where(part, alpha[ys, xs], 0)
        # a lone part of a few pixels gives no evidence either way: a speck
        lone_speck = (part & present[ys, xs]).sum() < MIN_PART
        if lone_speck or float(np.median(mark_evidence(part_alpha, colour[ys, xs],
                                                       [crop[ys, xs] for crop in crops]))) < MIN_EVIDENCE:
            alpha[ys, xs][part] = 0
            colour[ys, xs][part] = 0


def _check_found(alpha: np.ndarray, colour: np.ndarray, crops: Sequence[np.ndarray], count: int) -> None:
    """A shared mark changes the photos noticeably somewhere, and shows in
    most of them: refuse to invent one from estimation noise or from edges
    a few photos share. ``alpha``, ``colour``, ``crops``: in the mark's box."""
    strong = tight_mask(alpha, 0.1, 0)
    if strong.sum() < max(12, alpha.size * 2e-5) or float(alpha[strong].mean()) < 0.15:
        raise NoWatermarkError(f"{NO_MARK} in {count} photos")
    if len(crops) and float(np.median(mark_evidence(alpha, colour, crops))) < MIN_EVIDENCE:
        raise NoWatermarkError(f"{NO_MARK} in {count} photos (a faint mark needs more photos to be told "
                               "from edges that some photos share by chance)")


def matte_in_box(moments: Moments, region: np.ndarray, crops: Sequence[np.ndarray], box,
                  size: tuple[int, int], count: int, sharpness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-size (``size`` = w, h) alpha and colour from the photos'
    statistics in ``box``: matted (``_two_pass``), the parts most photos do
    not show dropped, and checked (NoWatermarkError when no shared mark is
    left). ``region``: full size; ``crops``: the photos in ``box``; ``count``:
    how many photos, for the message."""
    x0, y0, x1, y1 = box
    a, c = _two_pass(moments, region[y0:y1, x0:x1], crops, sharpness)
    alpha, colour = _finish(a, c, box, size)
    inside = (slice(y0, y1), slice(x0, x1))
    drop_unshared_parts(alpha[inside], colour[inside], crops)
    _check_found(alpha[inside], colour[inside], crops, count)
    return alpha, colour


def matte_marked(crops: list[np.ndarray], paths: list, region: np.ndarray, box, size: tuple[int, int],
                  second_mark: Callable[[list], Watermark] | None = None, sharpness: np.ndarray | None = None,
                  carriers: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None):
    """``matte_in_box`` on the crops, then again on only the photos that
    carry the mark (``carries_mark``), so photos without it do not pollute
    the estimate. Returns (alpha, colour, paths used, paths without the
    mark). Refuses (NoWatermarkError) fewer than MIN_PHOTOS carriers, and a
    folder whose photos without this mark share another one
    (``second_mark(paths)`` estimates from those)."""
    moments = Moments()
    for crop in crops:
        moments.add(crop)
    alpha, colour = matte_in_box(moments, region, crops, box, size, len(crops), sharpness)
    x0, y0, x1, y1 = box
    inside = np.s_[y0:y1, x0:x1]
    if carriers is not None:  # judged at each photo's own pixels
        carry = carriers(alpha, colour)
    else:
        carry = np.array([carries_mark(alpha[inside], colour[inside], crop)[0] for crop in crops])
    if carry.all():
        return alpha, colour, list(paths), []
    if carry.sum() < MIN_PHOTOS:
        raise NoWatermarkError(f"{NO_MARK} in {len(crops)} photos (only {int(carry.sum())} show the candidate)")
    without = [p for p, c in zip(paths, carry) if not c]
    if second_mark is not None and len(without) >= MIN_PHOTOS:
        try:
            other = second_mark(without)
        except (NoWatermarkError, ValueError):
            other = None
        if other is not None:
            raise NoWatermarkError(f"the photos carry two different watermarks ({int(carry.sum())} of the sample "
                                   f"one, {len(without)} another: {describe(other)}); restore each group from "
                                   "its own folder")
    kept = [c for c, k in zip(crops, carry) if k]
    moments = Moments()
    for crop in kept:
        moments.add(crop)
    alpha, colour = matte_in_box(moments, region, kept, box, size, len(kept),
                                  None if sharpness is None else sharpness[carry])
    return alpha, colour, [p for p, k in zip(paths, carry) if k], without
