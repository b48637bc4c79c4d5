"""Smart selection: the mask snaps to an object's outline from a rough box or
scribble (the app's Select Object tool). Offline, OpenCV only.

1. GrabCut on a copy downscaled to about ``WORK_PIXELS``, seeded by the box
   (inside: maybe object; outside: background) or by the scribble (under the
   stroke: object; its hull: maybe object; around it: maybe background;
   further out: background);
2. refined at full resolution in a band along the found edge (GrabCut again,
   with the inside and outside of the band fixed), so the outline follows the
   photo's pixels rather than the upscaled coarse one;
3. kept to the parts that touch the seed, specks dropped, then grown by a few
   pixels: shadows and colour halos around an object are where a removal
   shows, so the mask should cover a little more than the object.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

WORK_PIXELS = 400_000  # GrabCut's first pass runs on about this many pixels
REFINE_PIXELS = 4_000_000  # the edge pass runs at full resolution up to this crop size
ITERATIONS = 5
SPAN = 0.8  # a box's object reaches about this far across it, both ways (a snug box: 0.85 and more)
ADDED_EDGE = 2.2  # an outline a second cut adds lies on edges this many times the box's median

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels


def default_grow(height: int, width: int) -> int:
    """A few pixels, more on large photos (3 px at 1 MP, 6 px at 12 MP)."""
    return int(max(3, round(0.0015 * max(height, width))))


def _scale_for(h: int, w: int, pixels: int) -> float:
    return min(1.0, math.sqrt(pixels / float(h * w)))


def _grabcut(image: np.ndarray, seeds: np.ndarray, iterations: int) -> np.ndarray:
    """GrabCut from a GC_* seed map; True where the object is. Falls back to
    the seeds' own guess when a class has no pixels (GrabCut refuses it)."""
    fg = np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if not fg.any() or fg.all():
        return fg
    mask = seeds.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(np.ascontiguousarray(image), mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return fg
    return np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))


def seeds_from_box(shape: tuple[int, int], box: Box) -> np.ndarray:
    h, w = shape
    x0, y0, x1, y1 = box
    x0, x1 = sorted((int(round(x0)), int(round(x1))))
    y0, y1 = sorted((int(round(y0)), int(round(y1))))
    x0, x1 = int(np.clip(x0, 0, w)), int(np.clip(x1, 0, w))
    y0, y1 = int(np.clip(y0, 0, h)), int(np.clip(y1, 0, h))
    seeds = np.full((h, w), cv2.GC_BGD, np.uint8)
    seeds[y0:y1, x0:x1] = cv2.GC_PR_FGD
    return seeds


def seeds_from_scribble(shape: tuple[int, int], points: np.ndarray, radius: float) -> np.ndarray:
    """Under the stroke: object; inside its convex hull: maybe object; a
    margin around the hull: maybe background; beyond: background."""
    h, w = shape
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    x, y, bw, bh = cv2.boundingRect(pts)
    margin = int(round(0.35 * max(bw, bh) + 2 * radius + 4))
    seeds = np.full((h, w), cv2.GC_BGD, np.uint8)
    seeds[max(0, y - margin):min(h, y + bh + margin), max(0, x - margin):min(w, x + bw + margin)] = cv2.GC_PR_BGD
    hull = cv2.convexHull(pts)
    cv2.fillConvexPoly(seeds, hull, int(cv2.GC_PR_FGD))
    cv2.polylines(seeds, [pts], False, int(cv2.GC_FGD), thickness=max(1, int(round(radius))))
    return seeds


def _background_like(image: np.ndarray, seeds: np.ndarray) -> None:
    """Inside a box, start the pixels whose colour the ring just outside the
    box explains as maybe background (in place). GrabCut's object model is
    otherwise learnt from the whole box, which for a thin object (a bike, a
    fence, a person's outstretched arms) is mostly background, and the
    background seen through the object is then kept as object."""
    inside = seeds == cv2.GC_PR_FGD
    if inside.sum() < 50:
        return
    box = inside.astype(np.uint8)
    ys, xs = np.nonzero(inside)
    margin = max(3, int(0.08 * max(np.ptp(ys) + 1, np.ptp(xs) + 1)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin + 1, 2 * margin + 1))
    ring = cv2.dilate(box, kernel).astype(bool) & ~inside
    if ring.sum() < 50:
        return
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    samples = lab[ring]
    if len(samples) > 20000:
        samples = samples[np.linspace(0, len(samples) - 1, 20000).astype(int)]
    k = min(8, len(samples))
    cv2.setRNGSeed(0)  # the same selection for the same drag
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(samples, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)

    def nearest(pixels: np.ndarray) -> np.ndarray:
        return np.sqrt(((pixels[:, None, :] - centres[None]) ** 2).sum(axis=2)).min(axis=1)

    limit = 1.25 * float(np.percentile(nearest(samples), 97))
    d = nearest(lab[inside])
    like = d <= limit
    if like.mean() > 0.97:  # the box explains nothing new: leave it to GrabCut
        return
    seeds[ys[like], xs[like]] = cv2.GC_PR_BGD


def _span(mask: np.ndarray, box: np.ndarray) -> float:
    """How far ``mask`` reaches across ``box`` (both bool maps): its extent
    over the box's, in the narrower of the two directions (0 when empty)."""
    inside = mask & box
    if not inside.any():
        return 0.0
    ys, xs = np.nonzero(inside)
    bys, bxs = np.nonzero(box)
    return min((np.ptp(ys) + 1) / (np.ptp(bys) + 1), (np.ptp(xs) + 1) / (np.ptp(bxs) + 1))


def _edge_strength(image: np.ndarray) -> np.ndarray:
    """Colour edge strength: the gradient magnitude of the lightly smoothed
    Lab image (lightness and colour edges alike)."""
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (0, 0), 1.0), cv2.COLOR_RGB2LAB).astype(np.float32)
    gx, gy = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt((gx ** 2 + gy ** 2).sum(axis=2))


def _outline(mask: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``mask``'s outline inside the box, leaving out where the box's own
    border cuts the mask (no outline of the object's there)."""
    inside = (mask & box).astype(np.uint8)
    ring = inside.astype(bool) & ~cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)
    return ring & cv2.erode(box.astype(np.uint8), np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT,
                            borderValue=0).astype(bool)


def _whole_object(image: np.ndarray, first: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The object inside a box, from the first cut ``first``. A box is drawn
    around its object, so the object reaches nearly across it both ways; a
    first cut that does not (it stopped at a strong light/shade edge inside
    a half-lit object, or took one tone of a two-coloured one) is compared
    with cuts that can take the object's other tones: GrabCut from the plain
    box (no background-like start), and a second pass seeded by the first
    cut (its pixels sure object, the rest of the box maybe object). A cut is
    a candidate when it reaches clearly further across the box and the
    outline it adds follows real edges (well above the box's median edge
    strength: an outline through the background's texture means it took
    background). Of
    the candidates, the one whose outline follows the strongest edges is
    kept; without any, the first cut."""
    reach = _span(first, box)
    if reach >= SPAN:
        return first
    plain = _grabcut(image, np.where(box, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8), ITERATIONS)
    seeds = np.where(box, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    seeds[first & box] = cv2.GC_FGD
    grown = _grabcut(image, seeds, ITERATIONS)
    # the strength of an edge found within a pixel of an outline
    edges = cv2.dilate(_edge_strength(image), np.ones((3, 3), np.uint8))
    texture = float(np.median(edges[box])) + 1e-3
    near_first = cv2.dilate(_outline(first, box).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    best, best_strength = first, -1.0
    for candidate in (plain, grown):
        outline = _outline(candidate, box)
        added = outline & ~near_first
        if _span(candidate, box) < reach + 0.1 or added.sum() < 8 or edges[added].mean() < ADDED_EDGE * texture:
            continue
        strength = float(edges[outline].mean())
        if strength > best_strength:
            best, best_strength = candidate, strength
    return best


def _keep_touching(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The connected parts of ``mask`` that overlap ``seed``, without specks."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    touching = np.unique(labels[seed & mask])
    touching = touching[touching > 0]
    if touching.size == 0:
        return mask
    areas = stats[touching, cv2.CC_STAT_AREA]
    keep = touching[areas >= 0.02 * areas.max()]
    return np.isin(labels, keep)


def _refine_edge(image: np.ndarray, coarse: np.ndarray, band: int) -> np.ndarray:
    """GrabCut at full resolution in a band of ``band`` px along the edge of
    ``coarse``, the inside and outside of the band fixed."""
    h, w = coarse.shape
    ys, xs = np.nonzero(coarse)
    if ys.size == 0:
        return coarse
    pad = 3 * band + 8
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    crop_img, crop = image[y0:y1, x0:x1], coarse[y0:y1, x0:x1].astype(np.uint8)
    scale = _scale_for(*crop.shape, REFINE_PIXELS)
    if scale < 1.0:  # a huge object: refine at the largest size allowed, then upscale
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop_img = cv2.resize(crop_img, size, interpolation=cv2.INTER_AREA)
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_NEAREST)
        band = max(2, int(round(band * scale)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(crop, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    outer = cv2.dilate(crop, kernel).astype(bool)
    seeds = np.where(crop.astype(bool), cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    seeds[inner] = cv2.GC_FGD
    seeds[~outer] = cv2.GC_BGD
    refined = _grabcut(crop_img, seeds, 2).astype(np.uint8)
    if scale < 1.0:
        refined = cv2.resize(refined, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out = coarse.copy()
    out[y0:y1, x0:x1] = refined.astype(bool)
    return out


def select_object(image: np.ndarray, box: Box | None = None, scribble: np.ndarray | None = None,
                  scribble_radius: float = 8.0, grow: int | None = None) -> np.ndarray:
    """The object inside ``box`` (x0, y0, x1, y1) or under ``scribble`` (N x 2
    points, x y, in photo pixels) as a bool mask of the photo's size, grown
    by ``grow`` px (default: :func:`default_grow`). Empty if nothing is found."""
    if (box is None) == (scribble is None):
        raise ValueError("give a box or a scribble")
    image = np.ascontiguousarray(image[..., :3])
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    h, w = image.shape[:2]
    s = _scale_for(h, w, WORK_PIXELS)
    small_size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA) if s < 1 else image
    sh, sw = small.shape[:2]
    if box is not None:
        seeds = seeds_from_box((sh, sw), tuple(v * s for v in box))
        _background_like(small, seeds)
        seed_full = seeds_from_box((h, w), box) != cv2.GC_BGD
    else:
        pts = np.asarray(scribble, np.float64).reshape(-1, 2)
        seeds = seeds_from_scribble((sh, sw), pts * s, max(1.0, scribble_radius * s))
        seed_full = np.zeros((h, w), bool)
        line = np.zeros((h, w), np.uint8)
        cv2.polylines(line, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], False, 1,
                      thickness=max(1, int(round(scribble_radius))))
        seed_full = line.astype(bool)
    if not (seeds != cv2.GC_BGD).any():
        return np.zeros((h, w), bool)
    coarse = _grabcut(small, seeds, ITERATIONS)
    if box is not None:
        coarse = _whole_object(small, coarse, seeds_from_box((sh, sw), tuple(v * s for v in box)) != cv2.GC_BGD)
    if s < 1:
        coarse = cv2.resize(coarse.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR).astype(bool)
    band = max(2, int(round(1.5 / s)))  # the upscaled edge is uncertain by about a work pixel
    mask = _refine_edge(image, coarse, band) if coarse.any() else coarse
    if box is not None:  # the object lies inside the box the user drew
        mask &= seed_full
    mask = _keep_touching(mask, seed_full)
    grow = default_grow(h, w) if grow is None else int(grow)
    if grow > 0 and mask.any():
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        mask = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    return mask


def is_scribble(points) -> bool:
    """Did the user scribble (the path wanders) rather than drag a box (the
    path goes roughly straight from one corner to the other)?"""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return False
    length = float(np.sqrt((np.diff(pts, axis=0) ** 2).sum(axis=1)).sum())
    span = np.ptp(pts, axis=0)
    diagonal = float(np.hypot(*span))
    return diagonal > 0 and length > 1.3 * diagonal
