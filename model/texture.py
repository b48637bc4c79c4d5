"""The texture step of stage 2: copy real patches of the photo into the hole.

The network decides structure and colour; the photo supplies texture. This is
the paper's non-local idea used at inference: every hole position is matched
to the existing position whose neighbourhood is most alike, and the hole is
rebuilt from those patches.

Multi-scale patch synthesis in the manner of Wexler et al. (PAMI 2007):
a pyramid down to ``coarsest`` px; at each level PatchMatch (Barnes et al.
2009) finds, for every patch overlapping the hole, the nearest patch lying
wholly in the existing region, and the hole is re-estimated by a weighted vote
of the overlapping patches; the nearest-neighbour field is carried up to the
next level. The distance is guided: it compares the current estimate and, with
weight ``guide_weight``, a blurred copy of the network's fill against a
blurred copy of the candidate source, so the copied texture follows the
network's structure instead of drifting. The coarsest level starts from the
network's fill. Finally the fill's low frequencies are swapped for the
network's (``keep_low``), so colour and shading are the network's and only
the detail comes from the photo.

All pixel work is in numba-compiled loops (one core; cached on disk).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np


@dataclass(frozen=True)
class TextureOptions:
    patch: int = 7  # patch side (odd)
    coarsest: int = 48  # the pyramid stops when the crop's shorter side would fall below this
    iterations: int = 4  # EM iterations at the coarsest level
    fine_iterations: int = 2  # EM iterations at each finer level
    guide_weight: float = 2.0  # weight of the network's structure in the patch distance, coarsest level
    guide_decay: float = 0.5  # ... multiplied by this at each finer level (texture takes over)
    low_sigma: float = 2.0  # px per level: what counts as structure (low-pass) vs texture
    energy_weight: float = 100.0  # weight of the local texture energy (how busy the patch is)
    vote_percentile: float = 75.0  # patches vote with weight exp(-d / 2σ²), σ² this percentile of d
    sharp_last: bool = True  # the last vote copies each pixel from its best-matching patch (no averaging)
    keep_low: float = 4.0  # sigma (px at full size) of the network's low frequencies kept; 0: off
    seed: int = 0


def synthesize(image: np.ndarray, hole: np.ndarray, guide: np.ndarray,
               options: TextureOptions = TextureOptions()) -> np.ndarray:
    """Fill ``hole`` of ``image`` with the photo's own patches, guided by ``guide``.

    image: RGB uint8 H x W x 3 (pixels in the hole are ignored); hole: bool
    H x W; guide: the network's fill, RGB uint8 or float 0..255, H x W x 3.
    Returns RGB uint8 with every pixel outside the hole equal to ``image``.
    Returns the guide's fill unchanged when the photo has too little existing
    region to copy from.

    Patches are compared on two parts: structure (a low-pass copy: the
    network's fill on the hole side, the photo on the source side) and texture
    (the high-pass rest of the current estimate). The first iteration ignores
    the texture of the hole, which is still the network's smooth fill and
    would otherwise draw flat patches in.
    """
    hole = hole.astype(bool)
    guide = np.where(hole[..., None], np.asarray(guide, dtype=np.float32), image.astype(np.float32))
    out = image.copy()
    if not hole.any():
        return out
    r = options.patch // 2
    levels = _pyramid(image.astype(np.float32), hole, guide, options.coarsest, r)
    if levels is None:
        out[hole] = np.clip(guide[hole], 0, 255).round().astype(np.uint8)
        return out

    energy = _texture_energy(image, hole, levels, options.energy_weight)
    rng = np.random.default_rng(options.seed)
    low = lambda a: cv2.GaussianBlur(a, (0, 0), options.low_sigma)
    pad = lambda a: np.ascontiguousarray(cv2.copyMakeBorder(a, r, r, r, r, cv2.BORDER_REFLECT_101))
    nnf = estimate = None
    for depth, ((img, lvl_hole, lvl_guide), (src_energy, tgt_energy)) in enumerate(
            zip(reversed(levels), reversed(energy))):
        if estimate is None:
            estimate = lvl_guide.copy()
        else:
            estimate = cv2.resize(estimate, img.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            estimate = np.where(lvl_hole[..., None], estimate, img)
        source_ok = _source_mask(lvl_hole, r)
        targets = _dilate(lvl_hole, r)
        ty, tx = np.nonzero(targets)
        sy, sx = np.nonzero(source_ok)
        if nnf is None:
            pick = rng.integers(0, len(sy), len(ty))
            ny, nx = sy[pick].astype(np.int32), sx[pick].astype(np.int32)
        else:
            ny, nx = _upsample_nnf(nnf, ty, tx, source_ok, sy, sx, rng)
        weight = options.guide_weight * options.guide_decay ** depth
        img_low = low(img)
        src = pad(np.concatenate([img_low * weight, src_energy[..., None], img - img_low], axis=2))
        raw = pad(img)
        tgt_low = pad(np.concatenate([low(lvl_guide) * weight, tgt_energy[..., None]], axis=2))
        hole_p = pad(lvl_hole.astype(np.uint8))
        ok_p = pad(source_ok.astype(np.uint8))
        ok_p[:r], ok_p[-r:], ok_p[:, :r], ok_p[:, -r:] = 0, 0, 0, 0  # sources stay inside the crop
        ty_p, tx_p = (ty + r).astype(np.int32), (tx + r).astype(np.int32)
        ny, nx = ny + r, nx + r
        # The search radius at finer levels is small: the carried field is already good.
        max_radius = max(img.shape[:2]) if depth == 0 else 4 * options.patch
        iterations = options.iterations if depth == 0 else options.fine_iterations
        for it in range(iterations):
            texture_trust = pad(np.where(lvl_hole, 0.0 if (depth == 0 and it == 0) else 1.0, 1.0).astype(np.float32))
            tgt = np.concatenate([tgt_low, pad(estimate - low(estimate))], axis=2)
            seed = int(rng.integers(0, 2**31 - 1))
            dist = _patchmatch(tgt, src, texture_trust, ok_p, ty_p, tx_p, ny, nx, r, it % 2 == 1,
                               max_radius, seed)
            last = depth == len(levels) - 1 and it == iterations - 1
            percentile = -1.0 if (last and options.sharp_last) else options.vote_percentile
            estimate = _vote(raw, hole_p, ty_p, tx_p, ny, nx, dist, r, img.shape[0], img.shape[1],
                             percentile)
            estimate = np.where(lvl_hole[..., None], estimate, img)
        nnf = (img.shape[:2], ty, tx, ny - r, nx - r)

    if options.keep_low > 0:
        keep = lambda a: cv2.GaussianBlur(a, (0, 0), options.keep_low)
        estimate = estimate + keep(guide) - keep(estimate)
    out[hole] = np.clip(estimate[hole], 0, 255).round().astype(np.uint8)
    return out


# ----------------------------------------------------------------- pyramid
def _pyramid(image: np.ndarray, hole: np.ndarray, guide: np.ndarray, coarsest: int,
             r: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """[(image, hole, guide)] from full size down; None when even the full
    size has no whole patch of existing pixels to copy."""
    if not _source_mask(hole, r).any():
        return None
    levels = [(image, hole, guide)]
    while min(levels[-1][0].shape[:2]) // 2 >= coarsest:
        img, h, g = levels[-1]
        size = (img.shape[1] // 2, img.shape[0] // 2)
        small_hole = cv2.resize(h.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        if not _source_mask(small_hole, r).any():
            break
        levels.append((cv2.resize(img, size, interpolation=cv2.INTER_AREA), small_hole,
                       cv2.resize(g, size, interpolation=cv2.INTER_AREA)))
    return levels


def _texture_energy(image: np.ndarray, hole: np.ndarray, levels: list, weight: float) -> list:
    """[(source energy, target energy)] per level: how busy each place is
    (the local mean of the full-size luminance gradient), so that a patch of
    grass is never matched to a patch of sky. The hole's own energy is
    unknown (the network's fill is smooth): it is interpolated from the
    surroundings with a classical fill at the coarsest level."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    grad = cv2.GaussianBlur(grad, (0, 0), 2.0)
    scale = weight / (float(grad[~hole].mean()) + 1e-3)
    per_level = [cv2.resize(grad, img.shape[1::-1], interpolation=cv2.INTER_AREA) * scale
                 for img, _, _ in levels]
    coarse_hole = levels[-1][1]
    known = np.where(coarse_hole, 0, per_level[-1]).astype(np.float32)
    filled = cv2.inpaint(known, coarse_hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    out = []
    for (img, lvl_hole, _), src in zip(levels, per_level):
        up = cv2.resize(filled, img.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        out.append((src, np.where(lvl_hole, up, src).astype(np.float32)))
    return out


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _source_mask(hole: np.ndarray, r: int) -> np.ndarray:
    """Centres whose whole patch is existing and inside the image."""
    ok = ~_dilate(hole, r)
    ok[:r], ok[ok.shape[0] - r:], ok[:, :r], ok[:, ok.shape[1] - r:] = False, False, False, False
    return ok


def _upsample_nnf(nnf, ty, tx, source_ok, sy, sx, rng) -> tuple[np.ndarray, np.ndarray]:
    """Carry the coarser level's field up: offsets doubled; a target the
    coarse level did not have, or whose carried source is not valid here,
    gets a random valid source (PatchMatch then repairs it)."""
    (ch, cw), cty, ctx, cny, cnx = nnf
    field_y = np.full((ch, cw), -1, np.int32)
    field_x = np.full((ch, cw), -1, np.int32)
    field_y[cty, ctx], field_x[cty, ctx] = cny, cnx
    py, px = np.minimum(ty // 2, ch - 1), np.minimum(tx // 2, cw - 1)
    ny = 2 * field_y[py, px] + (ty - 2 * py)
    nx = 2 * field_x[py, px] + (tx - 2 * px)
    h, w = source_ok.shape
    inside = (field_y[py, px] >= 0) & (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    valid = inside.copy()
    valid[inside] = source_ok[ny[inside], nx[inside]]
    pick = rng.integers(0, len(sy), int((~valid).sum()))
    ny[~valid], nx[~valid] = sy[pick], sx[pick]
    return ny.astype(np.int32), nx.astype(np.int32)


# ------------------------------------------------------------ numba kernels
@numba.njit(cache=True, nogil=True)
def _distance(tgt, src, trust, ty, tx, sy, sx, r, limit):
    """Sum of squared differences: channels 0-3 (structure and texture
    energy) always, 4-6 (texture) weighted by the target pixel's trust."""
    total = 0.0
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            t = trust[ty + dy, tx + dx]
            for c in range(4):
                d = tgt[ty + dy, tx + dx, c] - src[sy + dy, sx + dx, c]
                total += d * d
            if t > 0:
                for c in range(4, 7):
                    d = tgt[ty + dy, tx + dx, c] - src[sy + dy, sx + dx, c]
                    total += t * d * d
        if total > limit:  # early exit: a row at a time
            return total
    return total


@numba.njit(cache=True, nogil=True)
def _patchmatch(tgt, src, trust, ok, ty, tx, ny, nx, r, backwards, max_radius, seed):
    """One PatchMatch pass (propagation + random search) over the targets,
    in raster order or its reverse. ``ny``/``nx`` are updated in place;
    returns each target's patch distance."""
    np.random.seed(seed)
    n = ty.shape[0]
    h, w = ok.shape
    # Index of each target by position, for propagation from its neighbours.
    index = np.full((h, w), -1, np.int64)
    for i in range(n):
        index[ty[i], tx[i]] = i
    dist = np.empty(n, np.float64)
    for i in range(n):
        dist[i] = _distance(tgt, src, trust, ty[i], tx[i], ny[i], nx[i], r, np.inf)
    step = -1 if backwards else 1
    start = n - 1 if backwards else 0
    for k in range(n):
        i = start + step * k
        y, x = ty[i], tx[i]
        # Propagation: the neighbour before in scan order, shifted by one.
        for oy, ox in ((0, -step), (-step, 0)):
            j = index[y + oy, x + ox] if 0 <= y + oy < h and 0 <= x + ox < w else -1
            if j < 0:
                continue
            cy, cx = ny[j] - oy, nx[j] - ox
            if 0 <= cy < h and 0 <= cx < w and ok[cy, cx]:
                d = _distance(tgt, src, trust, y, x, cy, cx, r, dist[i])
                if d < dist[i]:
                    dist[i], ny[i], nx[i] = d, cy, cx
        # Random search in shrinking windows around the current match.
        radius = max_radius
        while radius >= 1:
            cy = ny[i] + np.random.randint(-radius, radius + 1)
            cx = nx[i] + np.random.randint(-radius, radius + 1)
            if 0 <= cy < h and 0 <= cx < w and ok[cy, cx]:
                d = _distance(tgt, src, trust, y, x, cy, cx, r, dist[i])
                if d < dist[i]:
                    dist[i], ny[i], nx[i] = d, cy, cx
            radius //= 2
    return dist


@numba.njit(cache=True, nogil=True)
def _vote(src, hole, ty, tx, ny, nx, dist, r, out_h, out_w, percentile):
    """Each hole pixel: the average of the values that the patches covering
    it copy there, weighted by exp(-d / 2σ²) of each patch's distance (σ² a
    high percentile of the distances, so good matches count most)."""
    n = ty.shape[0]
    best = percentile < 0  # each pixel from the one patch (covering it) with the least distance
    sigma2 = 1.0 if best else np.percentile(dist, percentile) + 1e-6
    acc = np.zeros((out_h, out_w, 3), np.float64)
    weight = np.zeros((out_h, out_w), np.float64)
    least = np.full((out_h, out_w), np.inf)
    for i in range(n):
        wgt = np.exp(-min(dist[i] / (2.0 * sigma2), 600.0))  # never 0: every hole pixel keeps a vote
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                py, px = ty[i] + dy, tx[i] + dx
                if not hole[py, px]:
                    continue
                oy, ox = py - r, px - r
                if oy < 0 or ox < 0 or oy >= out_h or ox >= out_w:
                    continue
                if best:
                    if dist[i] < least[oy, ox]:
                        least[oy, ox] = dist[i]
                        for c in range(3):
                            acc[oy, ox, c] = src[ny[i] + dy, nx[i] + dx, c]
                        weight[oy, ox] = 1.0
                    continue
                for c in range(3):
                    acc[oy, ox, c] += wgt * src[ny[i] + dy, nx[i] + dx, c]
                weight[oy, ox] += wgt
    out = np.zeros((out_h, out_w, 3), np.float32)
    for y in range(out_h):
        for x in range(out_w):
            if weight[y, x] > 0:
                for c in range(3):
                    out[y, x, c] = acc[y, x, c] / weight[y, x]
    return out
