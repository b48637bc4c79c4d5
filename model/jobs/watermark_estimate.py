"""Estimate a folder's shared semi-transparent watermark
(``watermark_from_folder``: what ``batch --watermark auto``,
``watermark-mask`` and the app's two estimates run).

1. where: the per-pixel median of the photos' gradients (per colour
   channel) keeps the mark's edges and rejects the content
   (``colour_consistency``); edges above a robust noise bound, closed, with
   their enclosed holes filled and grown by a few pixels, give the region
   to estimate in (``mark_region``);
2. alpha and colour in that region's box (``watermark_matte.py``).

Photos of several sizes, the mark scaled to each by an export tool: the
placement rule (anchor, reference length) is found and every photo's mark
region is resampled into one frame (``watermark_placement.py``,
``_estimate_by_rule``); the estimate is resampled back to each photo
(``place_by_rule``) and fitted to it (``fit_to_photo``) when restored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from .watermark_matte import Moments, carries_mark, edge_strength, matte_in_box, matte_marked
from .watermark_model import NO_MARK, NoWatermarkError, Watermark
from .watermark_options import MIN_PHOTOS, SAMPLE
from .watermark_sizes import matte_over_sizes
from .watermark_placement import (Placement, align, box_around, compose, find_rule, invert_map, map_mark,
                                  reference_length, rule_map, warp)

WORK_PIXELS = 1_200_000  # photos are searched for the mark's region at most at this size
REGION_GROW = 3  # px around the detected edges where alpha is estimated
DETECT_PHOTOS = 40  # photos the region is found on (memory: N x 1.2 MP x 3 bytes + 4 bytes a channel)


def colour_consistency(images: Iterable[np.ndarray], work_size: tuple[int, int] | None = None) -> np.ndarray:
    """Per pixel, the largest over R, G and B of the magnitude of the median
    gradient over the photos (float32, at ``work_size``). Colour, not grey:
    a mark whose grey equals the photos' median grey (a mid blue, say) has
    no consistent grey edges, but it has them in its channels."""
    small = []
    for image in images:
        size = work_size or (image.shape[1], image.shape[0])
        small.append(image if image.shape[1::-1] == size else cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    if len(small) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} photos of the same size, got {len(small)}")
    h, w = small[0].shape[:2]
    score = np.zeros((h, w), np.float32)
    for c in range(3):  # one channel at a time: the stacks stay N x H x W float16
        gx = np.stack([cv2.Sobel(im[..., c].astype(np.float32) / 255, cv2.CV_32F, 1, 0, ksize=3).astype(np.float16)
                       for im in small])
        gy = np.stack([cv2.Sobel(im[..., c].astype(np.float32) / 255, cv2.CV_32F, 0, 1, ksize=3).astype(np.float16)
                       for im in small])
        for y0 in range(0, h, 64):
            mx = np.median(gx[:, y0:y0 + 64].astype(np.float32), axis=0)
            my = np.median(gy[:, y0:y0 + 64].astype(np.float32), axis=0)
            score[y0:y0 + 64] = np.maximum(score[y0:y0 + 64], np.hypot(mx, my))
        del gx, gy
    return score


def mark_region(score: np.ndarray, grow: int = REGION_GROW) -> np.ndarray:
    """Where to estimate alpha: the consistent edges (median gradient above
    a robust noise bound, median + 8 MADs), closed, specks dropped, enclosed
    holes filled (a solid logo's inside has no edges of its own; the inside
    of a ring comes out with alpha 0), grown by ``grow`` px."""
    h, w = score.shape
    med = float(np.median(score))
    mad = float(np.median(np.abs(score - med))) * 1.4826
    m = (score > med + 8 * mad + 1e-6).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(12, int(h * w * 2e-5))
    m = keep[labels].astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - m, connectivity=4)
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        if x > 0 and y > 0 and x + bw < w and y + bh < h and area < 0.02 * h * w:
            m[labels == i] = 1
    if grow > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return m.astype(bool)


def estimate_watermark(images: Sequence[np.ndarray]) -> Watermark:
    """The shared mark (alpha, colour) of same-size RGB uint8 photos held in
    memory (at least MIN_PHOTOS; the more the better: alpha within about
    0.025 from 24 real photos, 0.018 from 40). Raises NoWatermarkError when
    they share none."""
    images = list(images)
    score = colour_consistency(images)
    region = mark_region(score)
    box = box_around(region, 8)
    if box is None:
        raise NoWatermarkError(f"{NO_MARK} in {len(images)} photos")
    x0, y0, x1, y1 = box
    crops = [im[y0:y1, x0:x1] for im in images]
    alpha, colour, _, without = matte_marked(crops, list(range(len(crops))), region, box,
                                              (images[0].shape[1], images[0].shape[0]))
    return Watermark(alpha, colour, without=without)


def _spread(items: list, count: int) -> list:
    """``count`` items spread evenly over ``items`` (all when fewer)."""
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int))]


def _folder_photos(folder: str | Path) -> tuple[list[tuple[Path, tuple[int, int]]], list[tuple[Path, str]]]:
    """(path, (w, h)) of every photo of ``folder`` (recursively, by the
    photo lister every job uses), and (path, reason) of the unreadable ones."""
    from ..photos.files import readable_photos
    from ..photos.imageio import ImageReadError, image_size

    photos = []
    paths, skipped = readable_photos(Path(folder))  # never a link out of the folder, a FIFO, a device
    for path in paths:
        try:
            photos.append((path, image_size(path)))
        except ImageReadError as exc:
            skipped.append((path, str(exc)))
    if not photos:
        raise ValueError(f"no readable photos in {folder}")
    return photos, skipped


class _Reader:
    """Reads photos, counting progress and noting the unreadable ones."""

    def __init__(self, total: int, skipped: list, progress: Callable[[int, int], None] | None):
        self.total, self.done, self.skipped, self.progress = total, 0, skipped, progress

    def __call__(self, paths: Iterable[Path]):
        from ..photos.imageio import ImageReadError, read_image

        for path in paths:
            try:
                image = read_image(path)
            except ImageReadError as exc:
                if path not in [p for p, _ in self.skipped]:
                    self.skipped.append((path, str(exc)))
                image = None
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
            if image is not None:
                yield path, image


def watermark_from_folder(folder: str | Path, sample: int = SAMPLE,
                          progress: Callable[[int, int], None] | None = None, by_rule: bool = True) -> Watermark:
    """Estimate the mark from up to ``sample`` photos of ``folder``
    (recursively), spread over the folder. Photos of one size: the region
    is found on up to DETECT_PHOTOS of them at most 1.2 MP each; alpha and
    colour at full resolution in the region's box, from running sums over
    all ``sample`` photos. Photos of several sizes (``by_rule``): the mark's
    placement rule is found (``_estimate_by_rule``) and every photo's mark
    region is brought to the largest photo's frame. Without ``by_rule``,
    only the folder's most common size is used. Photos that do not carry
    the mark are left out of the estimate (``Watermark.without``).
    ``progress(done, total)`` after each photo read. Raises ValueError (too
    few photos) or NoWatermarkError (none, or two different marks)."""
    photos, skipped = _folder_photos(folder)
    sizes = [s for _, s in photos]
    if by_rule and len(set(sizes)) > 1:
        if len(photos) < MIN_PHOTOS:
            raise ValueError(f"need at least {MIN_PHOTOS} photos, got {len(photos)}")
        return _estimate_by_rule(photos, skipped, sample, progress)
    from collections import Counter

    size, _ = Counter(sizes).most_common(1)[0]
    same = [p for p, s in photos if s == size]
    if len(same) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} photos of the same size; the most common size "
                         f"{size[0]}x{size[1]} has {len(same)}")
    return _estimate_one_size(same, size, skipped, len(photos) - len(same), sample, progress)


def _estimate_one_size(same: list[Path], size: tuple[int, int], skipped: list, other_sizes: int, sample: int,
                       progress: Callable[[int, int], None] | None, second: bool = False) -> Watermark:
    """The mark of photos of one ``size`` (see ``watermark_from_folder``)."""
    picks = _spread(same, sample)
    detect = _spread(picks, DETECT_PHOTOS)
    scale = min(1.0, (WORK_PIXELS / (size[0] * size[1])) ** 0.5)
    work = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    read = _Reader(len(detect) + len(picks), skipped, progress)

    score = colour_consistency((im for _, im in read(detect)), work)
    region = mark_region(score)
    if work != size:  # any covered work pixel stays covered, plus the scaling's blur
        region = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_LINEAR) > 0
        grow = int(np.ceil(1 / scale))
        region = cv2.dilate(region.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)
    box = box_around(region, 8)
    if box is None:
        raise NoWatermarkError(f"{NO_MARK} in {len(detect)} photos")
    x0, y0, x1, y1 = box
    used: list[Path] = []
    crops: list[np.ndarray] = []
    for path, image in read(picks):
        crops.append(np.ascontiguousarray(image[y0:y1, x0:x1]))
        used.append(path)
    if len(crops) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} readable photos of the same size, got {len(crops)}")
    def second_mark(paths: list) -> Watermark:
        return _estimate_one_size(paths, size, [], 0, sample, None, second=True)

    alpha, colour, used, without = matte_marked(crops, used, region, box, size, None if second else second_mark)
    return Watermark(alpha, colour, used, skipped, other_sizes, without=without)


RULE_READ_PIXELS = 400_000  # photos are read at about this size to find the placement rule


def _estimate_by_rule(photos: list[tuple[Path, tuple[int, int]]], skipped: list, sample: int,
                      progress: Callable[[int, int], None] | None, second: bool = False) -> Watermark:
    """The mark of photos of several sizes, stamped by one placement rule.

    1. the rule: each photo (read at about 0.4 MP) is resampled into the
       frame of every anchor and reference (``watermark_placement.find_rule``);
       the one where the photos' median gradient shows the sharpest shared
       edges wins, and the mark's region is found in that frame;
    2. the frame of estimation is the photo size with the largest reference
       length whose mark lies inside it (the reference): every sampled
       photo's mark region is resampled (bilinear) to the reference's pixels
       there, and alpha and colour are estimated from those crops as for
       photos of one size. Photos whose mark is cut by their border are
       not estimated from (``Watermark.cropped``); they are restored.
    """
    picks = _spread(photos, sample)
    detect = _spread(picks, DETECT_PHOTOS)
    sizes = dict(picks)
    read = _Reader(len(detect) + len(picks), skipped, progress)
    small, small_sizes = [], []
    for path, image in read(p for p, _ in detect):
        h, w = image.shape[:2]
        scale = min(1.0, (RULE_READ_PIXELS / (w * h)) ** 0.5)
        small.append(image if scale == 1 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                         interpolation=cv2.INTER_AREA))
        small_sizes.append(sizes[path])
    if len(small) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} readable photos, got {len(small)}")
    anchor, reference, extent, score, per_unit = find_rule(small, small_sizes, colour_consistency)
    del small
    region_f = mark_region(score)
    fbox = box_around(region_f, 0)
    if fbox is None:
        raise NoWatermarkError(f"{NO_MARK} in {len(detect)} photos")
    eu0, ev0 = extent[0], extent[1]
    ubox = tuple(float(v) for v in (eu0 + fbox[0] / per_unit, ev0 + fbox[1] / per_unit,
                                    eu0 + fbox[2] / per_unit, ev0 + fbox[3] / per_unit))
    rule = Placement(anchor, reference, ubox)

    def inside(size: tuple[int, int], slack: float = 1.0) -> bool:
        x0, y0, x1, y1 = rule.pixel_box(*size)
        return x0 >= -slack and y0 >= -slack and x1 <= size[0] + slack and y1 <= size[1] + slack

    # the frame: the photo at the upper quartile by reference length whose
    # mark lies inside it; larger photos are shrunk into it, smaller ones
    # enlarged. On the benchmark's mixed folder the mapped-back alpha error
    # was 0.026-0.088 with the median photo's frame (the largest photos get
    # a blurred mark), 0.032-0.053 with the upper quartile's, 0.046-0.070
    # with the largest's (most photos enlarged, blurred; and 6x slower).
    by_length = sorted(sizes.values(), key=lambda s: reference_length(reference, *s))
    whole = [s for s in by_length if inside(s)] or by_length
    ref_size = whole[3 * (len(whole) - 1) // 4]
    rw, rh = ref_size
    px0, py0, px1, py1 = rule.pixel_box(rw, rh)
    box = (max(0, int(np.floor(px0)) - 8), max(0, int(np.floor(py0)) - 8),
           min(rw, int(np.ceil(px1)) + 8), min(rh, int(np.ceil(py1)) + 8))
    x0, y0, x1, y1 = box
    # the frame's region at the reference's pixels: frame index f = k x + t for reference index x
    s, ax, ay = rule.to_photo(rw, rh)
    k = per_unit / s
    to_rule_frame = np.array([[k, 0, 0.5 * k - (ax / s + eu0) * per_unit - 0.5],
                              [0, k, 0.5 * k - (ay / s + ev0) * per_unit - 0.5]])
    region = np.zeros((rh, rw), bool)
    region[y0:y1, x0:x1] = warp(region_f.astype(np.float32), to_rule_frame, box) > 0.01
    grow = int(np.ceil(1 / k))
    region = cv2.dilate(region.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)

    maps = {size: rule_map(rule, ref_size, size) for size in set(sizes.values())}
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)
    sources: list[tuple[Path, tuple[int, int], tuple[int, int], np.ndarray]] = []  # the mark's surroundings
    cropped = 0
    for path, image in read(p for p, _ in picks):
        size = (image.shape[1], image.shape[0])
        if not inside(size):
            cropped += 1
            continue
        at = corners @ maps[size].T
        sx0, sy0 = (max(0, int(np.floor(v)) - 8) for v in at.min(0))
        sx1, sy1 = min(size[0], int(np.ceil(at[:, 0].max())) + 8), min(size[1], int(np.ceil(at[:, 1].max())) + 8)
        sources.append((path, size, (sx0, sy0), np.ascontiguousarray(image[sy0:sy1, sx0:sx1])))
    if len(sources) < MIN_PHOTOS:
        raise ValueError(f"need at least {MIN_PHOTOS} readable photos whose mark lies inside them, got {len(sources)}")
    paths = [p for p, _, _, _ in sources]

    def frame_crops() -> list[np.ndarray]:
        return [np.clip(np.round(warp(src, maps[size], box, cv2.BORDER_REPLICATE, origin)), 0, 255).astype(np.uint8)
                for _, size, origin, src in sources]

    # the rule puts each size's mark within a pixel (export tools round
    # positions and sizes); line each size's photos up with the estimate
    for _ in range(2):
        crops = frame_crops()
        moments = Moments()
        for crop in crops:
            moments.add(crop)
        alpha, colour = matte_in_box(moments, region, crops, box, ref_size, len(crops))
        if not (alpha > 0).any():
            break
        marked = edge_strength(alpha[y0:y1, x0:x1] * 255) + edge_strength(alpha[y0:y1, x0:x1, None] *
                                                                           colour[y0:y1, x0:x1])
        for size in maps:
            group = [edge_strength(c) for c, (_, sz, _, _) in zip(crops, sources) if sz == size]
            if group:
                w = align(marked, np.mean(group, 0))
                if w is not None:
                    maps[size] = compose(maps[size], w, (x0, y0))
    crops = frame_crops()

    def second_mark(paths: list) -> Watermark:
        return _estimate_by_rule([(p, sizes[p]) for p in paths], [], sample, None, second=True)

    def carriers(alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
        src_box = box_around(alpha > 0, 4)
        out = []
        for _, size, (ox, oy), src in sources:
            a, col = map_mark(alpha, colour, invert_map(maps[size]), src_box,
                               (ox, oy, ox + src.shape[1], oy + src.shape[0]))
            out.append(carries_mark(a, col, src)[0])
        return np.array(out)

    alpha, colour, used, without = matte_marked(crops, paths, region, box, ref_size,
                                                 None if second else second_mark, carriers=carriers)
    if not second:  # at the largest photos' pixels, from every size at its own (watermark_sizes.py)
        carrying = set(used)
        alpha, colour, ref_size, maps = matte_over_sizes([src for src in sources if src[0] in carrying], maps,
                                                         alpha, colour, rule, ref_size)
        s, ax, ay = rule.to_photo(*ref_size)
    ys, xs = np.nonzero(alpha > 0)
    final = Placement(anchor, reference, (float((xs.min() - ax) / s), float((ys.min() - ay) / s),
                                          float((xs.max() + 1 - ax) / s), float((ys.max() + 1 - ay) / s)))
    return Watermark(alpha, colour, used, skipped, 0, placement=final, without=without, cropped=cropped,
                     fits={size: m for size, m in maps.items()})
