"""The texture step of stage 2: the photo's own texture under the network's structure.

The network decides structure and colour; the photo supplies texture. This is
the paper's non-local idea used at inference: every hole position is matched
to existing positions whose neighbourhoods are alike, and the hole is rebuilt
from those patches.

The patch synthesis is PatchMatch inpainting (Barnes et al. 2009; multi-scale
search and voting in the manner of Wexler et al. 2007), run on the crop at
the photo's full resolution, so the detail is the photo's own, not an
upsampled one: either the torch implementation (``model.patch_search``, on
the model's device, all searches of a photo in one batched call) or the
``pypatchmatch`` library (CPU, one search per call); ``TextureOptions.search``
chooses. Specks (holes smaller than a patch) need no search: they are
filled from their own rim (``fill_specks``). Its fill is then split
by frequency: everything coarser than ``keep_low`` network pixels is replaced
by the network's fill, so colour, shading and the continuation of large
structures are the network's and only the finer detail comes from the photo.

``TextureRun`` is the step for one removal (``model.inference.Inpainter``):
per region of the hole a texture box (``texture_box``), its patch searches
(``texture_tiles``: one, or tiles along a long thin hole) started on worker
threads while the network runs, then merged into the network's fill.
"""
from __future__ import annotations

import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from .boxes import Box

if TYPE_CHECKING:  # only named in annotations: the eval's --help must not load torch
    import torch

@dataclass(frozen=True)
class TextureOptions:
    patch_radius: int = 3  # PatchMatch patches are (2r+1)² pixels
    # Blur sigma, in the network's pixels, below which detail comes from the
    # photo and above which from the network. Swept on the trainer's held-out
    # photos (1.5 / 3 / 4.5 / 6 / 10: deep 1.737 / 1.696 / 1.690 / 1.687 /
    # 1.684, sharpness 0.70 / 0.81 / 0.83 / 0.84 / 0.84); 6 then gave the
    # eval photos more sharpness (0.84 vs 0.80) but a worse deep distance
    # (1.906 vs 1.894) and -0.15 dB, so 3 stays.
    keep_low: float = 3.0
    # Sources whose local detail is over this factor above or below the
    # hole's surroundings are left out (None: all). On seven textured
    # 2.5-5k photos: deep distance 4.007 -> 3.952; the sharp vein copied into
    # a defocused leaf photo's bokeh is gone.
    source_focus: float | None = 3.0
    seed: int = 0
    # The patch search: "torch" (model.patch_search, on the model's device),
    # "pypatchmatch" (CPU), or "auto": pypatchmatch wherever it is installed,
    # on a GPU too, until the torch search matches its quality (today deep
    # distance +0.13 on the eval, README "Speed"); torch where it is missing.
    search: str = "auto"
    # Connected holes whose bounding box is at most this many pixels on each
    # side are specks: filled from their rim, without a patch search.
    speck_side: int = 5


SEARCHES = ("auto", "torch", "pypatchmatch")


def search_for(options: TextureOptions, device: torch.device | str) -> str:
    """The patch search ``options`` asks for on ``device``: "torch" or "pypatchmatch"."""
    if options.search not in SEARCHES:
        raise ValueError(f"texture search must be one of {', '.join(SEARCHES)}, not {options.search!r}")
    if options.search != "auto":
        if options.search == "pypatchmatch" and _patchmatch() is None:
            raise RuntimeError("the PatchMatch library (pypatchmatch) is not available")
        return options.search
    return "torch" if _patchmatch() is None else "pypatchmatch"


def _patchmatch():
    """The pypatchmatch module, or None where it (or its native library) is missing."""
    try:
        import patchmatch
    except (ImportError, OSError):
        return None
    return patchmatch if getattr(patchmatch, "patchmatch_available", False) else None


def available() -> bool:
    """Whether the pypatchmatch library is here (the eval's PatchMatch
    baseline needs it; the texture step runs without it, on the torch search)."""
    return _patchmatch() is not None


def patch_fill(image: np.ndarray, hole: np.ndarray, patch_radius: int = 3, seed: int = 0,
               source_focus: float | None = None, no_source: np.ndarray | None = None) -> np.ndarray:
    """PatchMatch inpainting of ``hole`` by pypatchmatch (plain, as the
    eval's baseline, or the texture step's source of detail on a CPU);
    existing pixels stay as they are. ``source_focus``: leave out sources
    ``unlike_focus`` of the hole's surroundings (None: every existing pixel
    is a source); ``no_source``: further pixels that may not be copied (specks)."""
    pm = _patchmatch()
    if pm is None:
        raise RuntimeError("the PatchMatch library (pypatchmatch) is not available")
    pm.set_random_seed(seed)  # its search is randomised: fix it so runs repeat
    image = np.ascontiguousarray(image)
    mask = hole.astype(np.uint8) * 255
    excluded = _excluded(image, hole, source_focus, no_source)
    global_mask = None if excluded is None else excluded.astype(np.uint8) * 255  # pixels that are no source
    return pm.inpaint(image, mask, global_mask=global_mask, patch_size=patch_radius)  # patch_size is a radius


def _excluded(image: np.ndarray, hole: np.ndarray, source_focus: float | None,
              no_source: np.ndarray | None) -> np.ndarray | None:
    """Existing pixels that may not be a source: ``unlike_focus`` and ``no_source``."""
    excluded = None if source_focus is None else unlike_focus(image, hole, source_focus)
    if no_source is not None and no_source.any():
        excluded = no_source.copy() if excluded is None else excluded | no_source
    return excluded


def submit_patch_fills(pool: Executor, searches: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
                       options: TextureOptions, device: torch.device | str,
                       should_stop: Callable[[], bool] | None = None) -> list[Callable[[], np.ndarray]]:
    """Start the patch fills of ``searches`` ((image, hole, no_source) each)
    on ``pool``; returns, per search, a call that waits for its fill. The
    torch search runs all of them in one job (batched on ``device``, stopping
    between iterations once ``should_stop`` says so, with
    ``patch_search.Cancelled``); pypatchmatch one job per search."""
    if not searches:
        return []
    if search_for(options, device) == "pypatchmatch":
        jobs = [pool.submit(patch_fill, image, hole, options.patch_radius, options.seed, options.source_focus,
                            no_source) for image, hole, no_source in searches]
        return [job.result for job in jobs]

    def run_all() -> list[np.ndarray]:
        from .patch_search import patch_fill_batch

        images = [np.ascontiguousarray(image) for image, _, _ in searches]
        holes = [hole for _, hole, _ in searches]
        excluded = [_excluded(image, hole, options.source_focus, no_source) for image, hole, no_source in searches]
        return patch_fill_batch(images, holes, excluded, options.patch_radius, options.seed, device, should_stop)

    job = pool.submit(run_all)
    return [lambda i=i: job.result()[i] for i in range(len(searches))]


def speck_mask(hole: np.ndarray, side: int) -> np.ndarray:
    """The connected pieces of ``hole`` (8-connected) whose bounding box is
    at most ``side`` pixels each way: too small for a patch search to add
    anything their rim does not already say."""
    hole = np.asarray(hole, bool)
    if side <= 0 or not hole.any():
        return np.zeros_like(hole)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    small = (stats[:, cv2.CC_STAT_WIDTH] <= side) & (stats[:, cv2.CC_STAT_HEIGHT] <= side)
    small[0] = False  # the background
    return small[labels]


def fill_specks(image: np.ndarray, hole: np.ndarray, specks: np.ndarray) -> np.ndarray:
    """``image`` with its ``specks`` (part of ``hole``) filled from their
    rim: a Gaussian-weighted mean of the existing pixels around (a
    normalised convolution; no other hole pixel counts). Three blurs of the
    window, so a field of specks over a whole photo costs well under a
    second, where one patch search over it took minutes."""
    out = np.ascontiguousarray(image).copy()
    if specks.any():
        known = (~np.asarray(hole, bool)).astype(np.float32)
        sigma = SPECK_SIGMA
        weight = cv2.GaussianBlur(known, (0, 0), sigma)
        total = cv2.GaussianBlur(image.astype(np.float32) * known[..., None], (0, 0), sigma)
        filled = total[specks] / np.maximum(weight[specks], 1e-6)[:, None]
        out[specks] = np.clip(filled, 0, 255).round().astype(np.uint8)
    return out


SPECK_SIGMA = 1.5  # px: reaches the rim of a 5 x 5 speck from its centre


DETAIL_FLOOR = 1.0  # grey levels RMS: below this a region counts as flat, whatever its focus


def local_detail(grey: np.ndarray, window: int = 15) -> np.ndarray:
    """Per pixel, the RMS of the fine band (finer than a 1.5 px Gaussian)
    over a ``window``-pixel square: high in sharp texture, low in bokeh."""
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 1.5)
    # the box filter's running sums can dip a hair below 0 on flat areas
    return np.sqrt(np.maximum(cv2.blur(fine * fine, (window, window)), 0))


def unlike_focus(image: np.ndarray, hole: np.ndarray, factor: float) -> np.ndarray | None:
    """Existing pixels, away from the hole, whose local detail is more than
    ``factor`` times above or below that of the hole's surroundings (median
    over a ring around it): sharp texture is not copied into bokeh, nor blur
    into grass. None when that would leave fewer sources than four times
    the hole."""
    grey = image.astype(np.float32).mean(-1)
    detail = local_detail(grey)
    h8 = hole.astype(np.uint8)
    width = max(8, int(0.15 * np.sqrt(hole.sum())))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    near = cv2.dilate(h8, disc).astype(bool)
    ring = near & ~cv2.dilate(h8, np.ones((5, 5), np.uint8)).astype(bool)  # off the mask's edge
    if not ring.any():
        return None
    target = float(np.median(detail[ring]))
    sharper = detail > factor * max(target, DETAIL_FLOOR)
    # "blurrier" only where the surroundings have detail to lose (not in a clear sky)
    blurrier = detail < target / factor if target > factor * DETAIL_FLOOR else np.zeros_like(hole)
    unlike = ~hole & ~near & (sharper | blurrier)
    if (~hole & ~unlike).sum() < 4 * hole.sum():
        return None
    return unlike


def synthesize(image: np.ndarray, hole: np.ndarray, guide: np.ndarray,
               options: TextureOptions = TextureOptions(), guide_scale: float = 1.0) -> np.ndarray:
    """Fill ``hole`` of ``image`` with the photo's own detail on top of the
    network's fill ``guide``: ``merge_detail`` of ``patch_fill``.

    image: RGB uint8 H x W x 3; hole: bool H x W; guide: RGB uint8 or float
    0..255 H x W x 3, the network's fill; guide_scale: photo pixels per network
    pixel (the guide was upsampled by that much). Returns RGB uint8 whose
    pixels outside the hole equal ``image``. The patch search runs on the CPU
    (``options.search`` as for device "cpu").
    """
    hole = np.asarray(hole, bool)
    detail = None
    if hole.any():
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            [wait] = submit_patch_fills(pool, [(image, hole, None)], options, "cpu")
            detail = wait()
    return merge_detail(image, hole, detail, guide, options.keep_low * guide_scale)


def merge_detail(image: np.ndarray, hole: np.ndarray, detail: np.ndarray | None, guide: np.ndarray,
                 sigma: float) -> np.ndarray:
    """The hole of ``image`` filled with ``detail`` (a patch fill) whose
    frequencies coarser than a Gaussian of ``sigma`` photo pixels are
    replaced by ``guide``'s (the network's fill). ``detail`` None: the
    guide's fill alone."""
    hole = np.asarray(hole, bool)
    out = image.copy()
    if not hole.any():
        return out
    guide = np.where(hole[..., None], np.asarray(guide, np.float32), image.astype(np.float32))
    if detail is None:
        merged = guide
    elif sigma > 0:
        detail = detail.astype(np.float32)
        # detail - low(detail) + low(guide), with one blur: guide and detail
        # agree outside the hole, so the swap only changes what lies in and
        # near it.
        merged = detail + low_pass(guide - detail, sigma)
    else:
        merged = detail
    out[hole] = np.clip(merged[hole], 0, 255).round().astype(np.uint8)
    return out


def low_pass(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` px. A wide blur is computed at a smaller
    size (area-averaged by f = sigma // 4, blurred there, scaled back): its
    result is smooth, so the scaling loses nothing visible, and on a 12 MP
    texture region at sigma 23 px it takes a few hundredths of a second
    instead of a second (it differs by under 0.6 grey levels on a sharp
    15 px line, and by under 2 at the image's border for a 255-level band
    along it). Below sigma 12 px it is cv2.GaussianBlur itself."""
    f = int(sigma // 4)
    if f < 3:
        return cv2.GaussianBlur(a, (0, 0), sigma)
    h, w = a.shape[:2]
    small = cv2.resize(a, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA)
    # the area average itself blurs by about f / sqrt(12) px
    # BORDER_REFLECT at the small size mirrors about the same edge as
    # GaussianBlur's default does at full size
    small = cv2.GaussianBlur(small, (0, 0), np.sqrt(sigma ** 2 - f ** 2 / 12) / f, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)



# ------------------------------------------------------------ one removal

def texture_box(hole: np.ndarray, box: Box) -> Box:
    """Where the texture step works for the region in ``box``: the hole's
    own bounding box there plus a margin of half its size (at least 32 px),
    inside ``box``: as much context as the network's crop has (a tighter
    margin was faster but lost texture sources on large holes), without the
    padding a small hole's crop gets to reach the run size."""
    ys, xs = np.nonzero(hole[box.slices])
    if ys.size == 0:
        return box
    own = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1).shifted(box.x0, box.y0)
    return own.grown(_texture_margin(own.height, own.width), box)


def _texture_margin(height: int, width: int) -> int:
    """The context a hole's patch search gets around its box: half its size, at least 32 px."""
    return max(32, max(height, width) // 2)


# A texture region whose box would hold over this many times its hole's
# pixels (a long thin stroke: a power line, a scratch, a line of text; or
# pieces far apart) is searched piece by piece, and a long thin piece in
# tiles along it, instead of in one box. The patch search's time grows with
# its box, and the box around a diagonal line is the whole photo (a 15 px
# line across 12 MP: 17 s). Object-shaped holes stay below it (4-15 on the
# eval's full-size photos) and keep their one search.
MAX_BOX_PER_HOLE_PIXEL = 16
# ... and only when that pays: the box is large and the tiles' searches
# cover under half of it, in not too many calls (each has its own pyramid
# and focus map). A small diagonal pole or a sprinkle of specks keeps one.
MIN_TILED_BOX = 1_000_000  # pixels
MAX_TILES = 256


@dataclass(frozen=True)
class TextureTile:
    """One patch search of the texture step: ``search`` (image coordinates)
    is searched with all its hole pixels missing; the result's pixels
    ``own`` (a bool mask over ``keep``, a box inside ``search``) are kept."""
    search: Box
    keep: Box
    own: np.ndarray


def texture_tiles(hole: np.ndarray, tb: Box) -> list[TextureTile]:
    """The patch searches of the texture region ``tb``: one over ``tb`` for
    a compact hole; else one per connected piece (its box and the usual
    margin of half its size), and for a piece that is itself long and thin,
    square cells along it (side 4x its mean thickness, at least 128 px),
    each searched with a margin of twice that thickness (at least 32 px);
    the one search again where the tiles would not pay (see above). Every
    hole pixel of ``tb`` is owned by exactly one tile."""
    region = hole[tb.slices]
    count = int(region.sum())
    h, w = region.shape
    whole = [TextureTile(tb, tb, region)]
    if count == 0:
        return []
    if h * w <= MAX_BOX_PER_HOLE_PIXEL * count or h * w < MIN_TILED_BOX:
        return whole

    def piece(x0: int, y0: int, x1: int, y1: int) -> Box:  # region coordinates -> the image's
        return Box(x0, y0, x1, y1).shifted(tb.x0, tb.y0)

    def tile(labels: np.ndarray, label: int, keep: Box, margin: int) -> TextureTile:
        return TextureTile(keep.grown(margin, tb), keep, labels[keep.within(tb)] == label)

    tiles = []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    for label in range(1, n):
        x0, y0, bw, bh, area = (int(v) for v in stats[label])
        margin = _texture_margin(bh, bw)
        whole_piece = piece(x0, y0, x0 + bw, y0 + bh)
        if whole_piece.grown(margin, tb).area <= MAX_BOX_PER_HOLE_PIXEL * area:
            tiles.append(tile(labels, label, whole_piece, margin))
            continue
        thickness = area / max(bw, bh)
        cell, margin = int(max(128, 4 * thickness)), int(max(32, 2 * thickness))
        for cy in range(y0, y0 + bh, cell):
            for cx in range(x0, x0 + bw, cell):
                sy, sx = np.nonzero(labels[cy:min(cy + cell, y0 + bh), cx:min(cx + cell, x0 + bw)] == label)
                if sy.size:
                    tiles.append(tile(labels, label, piece(cx + sx.min(), cy + sy.min(), cx + sx.max() + 1,
                                                           cy + sy.max() + 1), margin))
    searched = sum(t.search.area for t in tiles)
    return tiles if len(tiles) <= MAX_TILES and 2 * searched < h * w else whole


@dataclass
class _Region:
    """The texture step of one region: its texture box, the specks in it
    and its searches (each a tile and a call that waits for its fill)."""
    box: Box
    specks: np.ndarray
    jobs: list[tuple[TextureTile, Callable[[], np.ndarray]]]


class TextureRun:
    """The texture step of one removal over its regions' ``boxes``. The
    patch searches need only the photo, not the network's fill, so they
    start at once on worker threads and run while the network does (one job
    per search with pypatchmatch, which releases the GIL; one batched job
    with the torch search, which stops between iterations once
    ``should_stop`` says so or the run is closed early). Specks
    (``speck_mask``) are no search's target nor source; the texture box and
    tiles are planned around the rest of the hole. ``finish`` merges a
    region's searches into the network's fill; ``close`` ends the run."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, boxes: list[Box], options: TextureOptions,
                 device: torch.device | str, should_stop: Callable[[], bool] | None = None):
        self.image, self.hole, self.options = image, hole, options
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._stop = threading.Event()
        specks = speck_mask(hole, options.speck_side)
        searched = hole & ~specks
        plans = []
        for box in boxes:
            # the detail is merged over the whole hole's texture box, searched only around the non-specks
            tiles = texture_tiles(searched, texture_box(searched, box)) if searched[box.slices].any() else []
            plans.append((box, texture_box(hole, box), tiles))
        tiles = [tile for _, _, box_tiles in plans for tile in box_tiles]
        waits = iter(submit_patch_fills(
            self._pool, [(image[t.search.slices], searched[t.search.slices], specks[t.search.slices]) for t in tiles],
            options, device, lambda: self._stop.is_set() or (should_stop is not None and should_stop())))
        self.regions = {box: _Region(tb, specks[tb.slices], [(tile, next(waits)) for tile in box_tiles])
                        for box, tb, box_tiles in plans}

    @property
    def searches(self) -> int:
        """How many patch searches the run makes (units of progress)."""
        return sum(len(region.jobs) for region in self.regions.values())

    def searches_of(self, box: Box) -> int:
        return len(self.regions[box].jobs)

    def finish(self, box: Box, fill: np.ndarray, network_side: int) -> np.ndarray:
        """The network's refined ``fill`` of the region ``box`` (at the photo's
        resolution; the network saw it at ``network_side`` pixels on its longer
        side) with the photo's own detail merged in over the texture box
        (waits for the region's searches)."""
        region = self.regions[box]
        tb = region.box
        local = tb.within(box)
        sigma = self.options.keep_low * max(box.width, box.height) / network_side
        detail = self._detail(region)
        fill = fill.copy()
        guide = fill[local]
        # a speck is below what the network resolves here: its rim's fill stands whole
        guide[region.specks] = detail[region.specks]
        fill[local] = merge_detail(self.image[tb.slices], self.hole[tb.slices], detail, guide, sigma)
        return fill

    def _detail(self, region: _Region) -> np.ndarray:
        """The patch fill of a texture region: its specks filled from their
        rim, the rest of its hole from its searches."""
        tb = region.box
        detail = fill_specks(self.image[tb.slices], self.hole[tb.slices], region.specks)
        for tile, wait in region.jobs:
            fill = wait()
            detail[tile.keep.within(tb)][tile.own] = fill[tile.keep.within(tile.search)][tile.own]
        return detail

    def close(self, finished: bool) -> None:
        """End the run. Not ``finished`` (cancelled, or an error): return at
        once; a torch search stops at its next iteration; a pypatchmatch
        search cannot be interrupted, so it finishes on its own thread (its
        result unused), taking a core meanwhile and, if the app is closed,
        holding its exit until then."""
        self._stop.set()
        self._pool.shutdown(wait=finished, cancel_futures=True)
