"""Where an export tool puts a watermark on photos of different sizes: the
placement rule, and resampling between photos by it.

A shop's or photographer's export stamps the mark scaled to each photo: a
fixed fraction of a reference length (the width, the height or the short
side) from an anchor (a corner or the centre), with a margin proportional to
the same length. In units of that length, measured from the anchor, the mark
then sits at the same place in every photo. ``Placement`` is that rule plus
the mark's box in those units; ``find_rule`` tries every anchor and reference
on a folder's photos and keeps the one that lines the mark up best.

Coordinates: a pixel ``i`` spans ``[i, i + 1)``; a point ``(u, v)`` (units of
the reference length from the anchor point, x right, y down) is at
``anchor + (u, v) * length`` in a photo.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from .errors import PhotoRefused
from .mask_fit import anchor_offset, pinned

if TYPE_CHECKING:
    from .watermark_model import Watermark

ANCHORS = ("bottom-right", "bottom-left", "top-right", "top-left", "centre")
REFERENCES = ("width", "height", "short side")
RULE_FRAME_PIXELS = 200_000  # the frame each rule is tried in (the mark's edges must show at this size)
RULE_TIE = 0.95  # rules lining the mark up within this of the best are equivalent on the folder


def reference_length(reference: str, width: float, height: float) -> float:
    return {"width": width, "height": height, "short side": min(width, height)}[reference]


def anchor_point(anchor: str, width: float, height: float) -> tuple[float, float]:
    x = 0.0 if "left" in anchor else (width if "right" in anchor else width / 2)
    y = 0.0 if "top" in anchor else (height if "bottom" in anchor else height / 2)
    return x, y


@dataclass(frozen=True)
class Placement:
    """The rule (anchor, reference) and the mark's box ``(u0, v0, u1, v1)``
    in units of the reference length from the anchor point."""

    anchor: str
    reference: str
    box: tuple[float, float, float, float]

    def to_photo(self, width: int, height: int) -> tuple[float, float, float]:
        """(scale, ax, ay): a point (u, v) lands at ``(ax + u * scale, ay + v * scale)``."""
        ax, ay = anchor_point(self.anchor, width, height)
        return reference_length(self.reference, width, height), ax, ay

    def pixel_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The mark's box in a photo of this size (pixel edges; may reach past the border)."""
        s, ax, ay = self.to_photo(width, height)
        u0, v0, u1, v1 = self.box
        return ax + u0 * s, ay + v0 * s, ax + u1 * s, ay + v1 * s

    def describe(self) -> str:
        """E.g. ``bottom-right, 22 % of the width, margin 3 %`` (the margin in
        the same units; two figures when the horizontal and vertical differ)."""
        u0, v0, u1, v1 = self.box
        scale = f"{100 * (u1 - u0):.0f} % of the {self.reference}"
        if self.anchor == "centre":
            cx, cy = (u0 + u1) / 2, (v0 + v1) / 2
            return f"centre, {scale}, its centre offset x {100 * cx:+.0f} %, y {100 * cy:+.0f} %"
        mx = -u1 if "right" in self.anchor else u0
        my = -v1 if "bottom" in self.anchor else v0
        margin = f"{100 * mx:.0f} %" if abs(mx - my) < 0.005 else f"{100 * mx:.0f} % x {100 * my:.0f} % y"
        return f"{self.anchor}, {scale}, margin {margin}"

    def to_text(self) -> str:
        return json.dumps({"anchor": self.anchor, "reference": self.reference, "box": list(self.box)})

    @classmethod
    def from_text(cls, text: str) -> "Placement":
        d = json.loads(text)
        if d["anchor"] not in ANCHORS or d["reference"] not in REFERENCES or len(d["box"]) != 4:
            raise ValueError(f"not a watermark placement: {text!r}")
        return cls(d["anchor"], d["reference"], tuple(float(v) for v in d["box"]))


def photo_to_photo(rule: Placement, src_size: tuple[int, int], dst_size: tuple[int, int]) -> tuple[float, float, float]:
    """(k, tx, ty): the source pixel (index coordinates, centres at integers)
    that the rule puts at destination pixel (x, y) is ``(k x + tx, k y + ty)``."""
    s_s, sx, sy = rule.to_photo(*src_size)
    s_d, dx, dy = rule.to_photo(*dst_size)
    k = s_s / s_d
    return k, sx + (0.5 - dx) * k - 0.5, sy + (0.5 - dy) * k - 0.5


def rule_map(rule: Placement, frame_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """2 x 3 affine: the pixel (index coordinates) of a photo of ``size``
    that the rule puts at a pixel of the frame photo of ``frame_size``."""
    k, tx, ty = photo_to_photo(rule, size, frame_size)
    return np.array([[k, 0, tx], [0, k, ty]], np.float64)


def invert_map(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def area_weights(n_out: int, n_in: int, k: float, t: float, replicate: bool = False):
    """Sparse ``n_out`` x ``n_in`` matrix: output pixel ``i`` (of the
    index map ``source = k i + t``, ``k`` >= 1) is the average of the source
    pixels under its footprint ``[k i + t + 0.5 - k / 2, + k)`` (pixel edges),
    each weighted by how much of it lies there: area sampling, as an export
    tool shrinks its logo. Outside the source the border pixel repeats
    (``replicate``) or counts as 0."""
    import scipy.sparse as sp

    a = k * np.arange(n_out) + t + 0.5 - k / 2
    cols = np.floor(a)[:, None] + np.arange(int(np.ceil(k)) + 2)[None, :]
    overlap = np.clip(np.minimum(a[:, None] + k, cols + 1) - np.maximum(a[:, None], cols), 0, None) / k
    if replicate:
        cols = np.clip(cols, 0, n_in - 1)
    else:
        overlap[(cols < 0) | (cols >= n_in)] = 0
        cols = np.clip(cols, 0, n_in - 1)
    rows = np.repeat(np.arange(n_out), cols.shape[1])
    return sp.csr_matrix((overlap.ravel(), (rows, cols.ravel().astype(np.int64))), shape=(n_out, n_in))


def warp(src: np.ndarray, m: np.ndarray, out_box: tuple[int, int, int, int], border: int = cv2.BORDER_CONSTANT,
         src_origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The pixels ``out_box`` (x0, y0, x1, y1) of ``src(m . (x, y, 1))``
    (``m`` 2 x 3, destination index -> source index; ``src`` a crop of the
    source at ``src_origin``): where it shrinks, each output pixel is the
    area average of the source under it (``area_weights``: no aliasing of
    thin strokes, and how an export tool scales its logo; resampling
    through an area-averaged size then bicubic cost 0.017-0.039 of alpha
    error on the benchmark's mark), else bicubic."""
    x0, y0, x1, y1 = out_box
    m = np.array(m, np.float64)
    src = np.ascontiguousarray(src, np.float32)
    m[:, 2] = m[:, :2] @ np.array([x0, y0], np.float64) + m[:, 2] - np.array(src_origin, np.float64)
    kx, ky = m[0, 0], m[1, 1]
    if m[0, 1] == 0 and m[1, 0] == 0 and min(kx, ky) >= 1.05 and min(src.shape[:2]) > 1:
        h, w = src.shape[:2]
        replicate = border == cv2.BORDER_REPLICATE
        wy = area_weights(y1 - y0, h, ky, m[1, 2], replicate)
        wx = area_weights(x1 - x0, w, kx, m[0, 2], replicate)
        flat = src.reshape(h, w, -1)
        out = np.stack([(wx @ (wy @ flat[..., c]).T).T for c in range(flat.shape[2])], -1)
        return out.reshape((y1 - y0, x1 - x0) + src.shape[2:]).astype(np.float32)
    out = cv2.warpAffine(src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                         borderMode=border, borderValue=0)
    return out.reshape((y1 - y0, x1 - x0) + src.shape[2:])


ALIGN_LIMIT = 1.5  # px of the frame: a size's fit may shift the mark this far (export tools round), else the rule stands


def align(template: np.ndarray, image: np.ndarray) -> np.ndarray | None:
    """2 x 3 affine ``w`` (crop index -> crop index) with ``image(w x)``
    lined up with ``template(x)`` (edge maps of the same box), by ECC; None
    when it does not converge or moves further than ALIGN_LIMIT."""
    t = cv2.GaussianBlur(np.ascontiguousarray(template, np.float32), (0, 0), 1.0)
    i = cv2.GaussianBlur(np.ascontiguousarray(image, np.float32), (0, 0), 1.0)
    w = np.eye(2, 3, dtype=np.float32)
    try:
        _, w = cv2.findTransformECC(t, i, w, cv2.MOTION_TRANSLATION,
                                    (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5), None, 1)
    except cv2.error:
        return None
    h, wd = template.shape[:2]
    corners = np.array([[0, 0, 1], [wd, 0, 1], [0, h, 1], [wd, h, 1]], np.float64)
    moved = np.abs(corners @ w.T.astype(np.float64) - corners[:, :2]).max()
    if moved > ALIGN_LIMIT:
        return None
    return w.astype(np.float64)


def compose(m: np.ndarray, w: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """``m`` after the crop-index warp ``w`` of a crop at ``origin``: frame
    index f -> m(w(f - origin) + origin)."""
    o = np.array(origin, np.float64)
    lin = w[:, :2]
    inner = np.hstack([lin, (w[:, 2] + o - lin @ o)[:, None]])  # f -> w(f - o) + o
    return np.hstack([m[:, :2] @ inner[:, :2], (m[:, :2] @ inner[:, 2] + m[:, 2])[:, None]])


def frame_extent(anchor: str, reference: str, sizes: Sequence[tuple[int, int]]) -> tuple[float, float, float, float]:
    """The part of the rule's frame (units) most photos cover: per axis the
    median extent, placed by the anchor."""
    eu = float(np.median([w / reference_length(reference, w, h) for w, h in sizes]))
    ev = float(np.median([h / reference_length(reference, w, h) for w, h in sizes]))
    u0 = -eu if "right" in anchor else (0.0 if "left" in anchor else -eu / 2)
    v0 = -ev if "bottom" in anchor else (0.0 if "top" in anchor else -ev / 2)
    return u0, v0, u0 + eu, v0 + ev


def to_frame(image: np.ndarray, size: tuple[int, int], anchor: str, reference: str,
             extent: tuple[float, float, float, float], per_unit: float) -> np.ndarray:
    """``image`` (a photo of true ``size`` (w, h), possibly read smaller)
    resampled into the frame ``extent`` at ``per_unit`` px per unit of the
    reference length; outside the photo its border pixels are repeated (no
    edges there)."""
    w, h = size
    ih, iw = image.shape[:2]
    s, ax, ay = Placement(anchor, reference, extent).to_photo(w, h)
    u0, v0, u1, v1 = extent
    fw, fh = max(1, round((u1 - u0) * per_unit)), max(1, round((v1 - v0) * per_unit))
    # frame pixel edge f -> unit u0 + f / per_unit -> photo edge ax + u * s -> read-image edge * (iw / w)
    kx, ky = s / per_unit * iw / w, s / per_unit * ih / h
    tx = (ax + u0 * s) * iw / w + 0.5 * kx - 0.5
    ty = (ay + v0 * s) * ih / h + 0.5 * ky - 0.5
    src = image.astype(np.float32)
    k = max(kx, ky)
    if k > 1.05:
        src = cv2.GaussianBlur(src, (0, 0), 0.5 * np.sqrt(k * k - 1))
    m = np.array([[kx, 0, tx], [0, ky, ty]], np.float64)
    out = cv2.warpAffine(src, m, (fw, fh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def rule_strength(score: np.ndarray) -> float:
    """How sharply the photos' median gradient shows a shared mark in one
    frame: the mean of its top 0.2 % over the frame's median."""
    flat = np.sort(score.ravel())
    top = flat[-max(20, flat.size // 500):]
    return float(top.mean() - np.median(flat))


def find_rule(images: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]], consistency,
              frame_pixels: int = RULE_FRAME_PIXELS) -> tuple[str, str, tuple, np.ndarray, float]:
    """Try every anchor and reference on ``images`` (photos read at any
    smaller size, ``sizes`` their true (w, h)); ``consistency(frames)`` is
    the per-pixel shared-edge score. Returns (anchor, reference, frame
    extent, the winner's score map, px per unit). Rules within RULE_TIE of the
    best line the folder's photos up equally well (photos of one aspect
    ratio cannot tell them apart); of those, the one whose anchor is
    nearest the mark, and the simplest reference (width first)."""
    tried = []
    for anchor in ANCHORS:
        for reference in REFERENCES:
            extent = frame_extent(anchor, reference, sizes)
            u0, v0, u1, v1 = extent
            per_unit = (frame_pixels / ((u1 - u0) * (v1 - v0))) ** 0.5
            frames = [to_frame(im, size, anchor, reference, extent, per_unit) for im, size in zip(images, sizes)]
            score = consistency(frames)
            tried.append((rule_strength(score), anchor, reference, extent, score, per_unit))
    best = max(t[0] for t in tried)
    close = [t for t in tried if t[0] >= RULE_TIE * best]

    def distance(t) -> float:  # from the anchor point to the strongest shared edges, in units
        _, anchor, reference, (u0, v0, _, _), score, per_unit = t
        ys, xs = np.nonzero(score >= np.percentile(score, 99.8))
        u, v = u0 + (xs.mean() + 0.5) / per_unit, v0 + (ys.mean() + 0.5) / per_unit
        return float(np.hypot(u, v)) + 0.01 * REFERENCES.index(reference)

    _, anchor, reference, extent, score, per_unit = min(close, key=distance)
    return anchor, reference, extent, score, per_unit


# ------------------------------------------- the estimate on a photo of any size

NCC_FOUND = 0.5  # a mark searched for in a photo of another size counts as found above this


def gradient_magnitude(grey: np.ndarray) -> np.ndarray:
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))


def box_around(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    h, w = mask.shape
    return (max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
            min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin))


def search_mark(mark: Watermark, image: np.ndarray) -> tuple[int, int, float]:
    """Where the mark (at its pixel size) sits in ``image``: normalised
    cross-correlation of the mark's gradient magnitude with the photo's.
    Returns (oy, ox) of the mark's full frame and the score (-1..1)."""
    box = mark.bbox
    if box is None:
        return 0, 0, -1.0
    x0, y0, x1, y1 = box
    templ = gradient_magnitude(cv2.cvtColor(mark.preview(), cv2.COLOR_RGB2GRAY).astype(np.float32)[y0:y1, x0:x1])
    photo = gradient_magnitude(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32))
    if photo.shape[0] < templ.shape[0] or photo.shape[1] < templ.shape[1]:
        return 0, 0, -1.0
    ncc = cv2.matchTemplate(photo, templ, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(ncc)
    return by - y0, bx - x0, float(best)


def place_by_rule(mark: Watermark, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """alpha and colour on a photo of ``width`` x ``height`` by the mark's
    placement rule (refined for the sizes the estimate saw,
    ``Watermark.fits``): the mark resampled from the estimate's frame (a
    Gaussian blur first where it shrinks, bilinear), alpha and alpha * W
    alike (so the colour at the mark's anti-aliased edge stays right); what
    falls outside the photo is cut off."""
    alpha = np.zeros((height, width), np.float32)
    colour = np.zeros((height, width, 3), np.float32)
    src_box = box_around(mark.alpha > 0, 4)
    if src_box is None:
        return alpha, colour
    to_photo = mark.fits.get((width, height))
    if to_photo is None:
        to_photo = rule_map(mark.placement, mark.size, (width, height))
    sx0, sy0, sx1, sy1 = src_box
    corners = np.array([[sx0, sy0, 1], [sx1, sy0, 1], [sx0, sy1, 1], [sx1, sy1, 1]], np.float64)
    at = corners @ to_photo.T  # the photo's pixels showing the mark's box
    from_photo = invert_map(to_photo)
    box = (max(0, int(np.floor(at[:, 0].min())) - 2), max(0, int(np.floor(at[:, 1].min())) - 2),
           min(width, int(np.ceil(at[:, 0].max())) + 2), min(height, int(np.ceil(at[:, 1].max())) + 2))
    if box[2] <= box[0] or box[3] <= box[1]:
        return alpha, colour
    a, col = map_mark(mark.alpha, mark.colour, from_photo, src_box, box)
    x0, y0, x1, y1 = box
    alpha[y0:y1, x0:x1] = a
    colour[y0:y1, x0:x1] = col
    return alpha, colour


def map_mark(alpha: np.ndarray, colour: np.ndarray, m: np.ndarray, src_box, out_box) -> tuple[np.ndarray, np.ndarray]:
    """alpha and colour (full frame arrays, read in ``src_box``) at the
    pixels ``out_box`` of another photo (``m``: its index -> the frame's);
    alpha and alpha * W resampled alike."""
    sx0, sy0, sx1, sy1 = src_box
    a_src = alpha[sy0:sy1, sx0:sx1]
    aw_src = a_src[..., None] * colour[sy0:sy1, sx0:sx1]
    a = np.clip(warp(a_src, m, out_box, src_origin=(sx0, sy0)), 0, 1)
    aw = warp(aw_src, m, out_box, src_origin=(sx0, sy0))
    a[a < 0.005] = 0
    return a, np.where(a[..., None] > 0, np.clip(aw / np.maximum(a, 1e-3)[..., None], 0, 255), 0)


def place_mark(mark: Watermark, image: np.ndarray, rule: str = "error") -> tuple[np.ndarray, np.ndarray, str]:
    """alpha and colour at ``image``'s size, and how they were placed: the
    same size as is (through its fit, ``Watermark.fits``, when it has one);
    another size by ``rule`` (``stretch``, ``anchor-*``,
    as ``batch --mask-fit``) or, for ``error`` (the default), by searching
    for the mark. Raises PhotoRefused (a ValueError) when a searched mark is not found."""
    h, w = image.shape[:2]
    mh, mw = mark.alpha.shape
    if (mh, mw) == (h, w):
        if (w, h) in mark.fits:  # lined up with the estimate's frame at its own size too
            return (*place_by_rule(mark, w, h), "same size")
        return mark.alpha, mark.colour, "same size"
    if mark.placement is not None and rule == "error":
        alpha, colour = place_by_rule(mark, w, h)
        return alpha, colour, f"placed by its rule ({mark.placement.describe()})"
    if rule == "stretch":
        size = (w, h)
        return (cv2.resize(mark.alpha, size, interpolation=cv2.INTER_LINEAR),
                cv2.resize(mark.colour, size, interpolation=cv2.INTER_LINEAR), f"stretched to {w}x{h}")
    if rule.startswith("anchor-"):
        oy, ox = anchor_offset((mh, mw), h, w, rule)
        how = f"{rule}"
    else:
        oy, ox, score = search_mark(mark, image)
        if score < NCC_FOUND:
            raise PhotoRefused(f"the watermark was not found in this {w}x{h} photo: best match {score:.2f} < "
                               f"{NCC_FOUND}", "mask_fit")
        how = f"found by search at offset x {ox}, y {oy} (match {score:.2f})"
    return pinned(mark.alpha, h, w, oy, ox), pinned(mark.colour, h, w, oy, ox), how
