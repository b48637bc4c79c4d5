"""Restore photos under a folder's shared semi-transparent watermark instead
of repainting it: ``python main.py batch DIR --watermark auto``.

A watermark is blended as ``J = alpha * W + (1 - alpha) * I`` with the same
opacity ``alpha`` and colour ``W`` (both per pixel) in every photo, so with
both known the photo comes back: ``I = (J - alpha * W) / (1 - alpha)``
(Dekel et al., "On the Effectiveness of Visible Watermarks", CVPR 2017).

Estimation, from many photos sharing the mark:

1. where: the per-pixel median of the photos' gradients (per colour
   channel) keeps the mark's edges and rejects the content;
   edges above a robust noise bound, closed, with their enclosed holes
   filled and grown by a few pixels, give the region to estimate in;
2. alpha and alpha*W per pixel: at one pixel the blend maps every photo's
   value by the same affine map, so over the collection the mark scales
   the spread of the values by ``1 - alpha`` and shifts their mean by
   ``alpha * W``. The spread and mean the photos would have there without
   the mark are interpolated (harmonic, in log spread) from the unmarked
   pixels around the region; the ratio of spreads gives ``alpha`` (one per
   pixel, shared by the channels), the means then give ``alpha * W``.

3. photos without the mark: each photo must show the estimate's edges more
   as it is than with the mark taken out (``carries_mark``); those that do
   not are left out and the estimate is made again (a folder where they
   share another mark is refused).

Photos of several sizes, the mark scaled to each by an export tool: the
placement rule (anchor, reference length) is found and every photo's mark
region is resampled into one frame (``model/jobs/watermark_placement.py``,
``_estimate_by_rule``); the estimate is resampled back to each photo
(``place_by_rule``) and fitted to it (``fit_to_photo``).

Restoration of one photo: a photo that does not carry the mark is left as
it is (``run_batch`` copies it); otherwise invert the blend where ``alpha`` is clearly below
1; the inversion multiplies the photo's JPEG noise by ``1 / (1 - alpha)``,
so the result is denoised (non-local means) with a weight that grows with
that gain; where the mark is opaque (``alpha`` near 1) or the photo is
clipped under it (nothing to invert), the model's inpainting
(``model.inference.Inpainter``) fills, feathered into the restored pixels.
Every pixel outside the mark's region is left exactly as it was.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from PIL import Image, PngImagePlugin

from .errors import PhotoRefused
from .watermark import MIN_PHOTOS, WORK_PIXELS
from .watermark_placement import Placement

OPAQUE = 0.85  # alpha above this is not inverted: the model fills
FALLBACK_FROM = 0.7  # from here up to OPAQUE the result blends toward the fill
MASK_ALPHA = 0.04  # the tight mask: alpha above this (estimation noise is about 0.02)
REGION_GROW = 3  # px around the detected edges where alpha is estimated
DENOISE_H = 8  # non-local means strength on the inverted pixels (0..255 scale)
DENOISE_GAIN = 1.5  # the denoised result takes over fully at gain 1 / (1 - alpha) = 1 + this
CLIP_SLACK = 40  # inverted further out of 0..255 than this: not trusted, the fill takes over (20 also caught good pixels: -0.15 dB)
SMALL_FILL = 64  # fewer pixels to fill than this: OpenCV's Telea instead of the model (as good, far faster)
NCC_FOUND = 0.5  # a mark searched for in a photo of another size counts as found above this
POOL_BYTES = 400 * 2 ** 20  # crops kept for the photo-by-photo matting
MEAN_MIX = 0.7  # weight of the mean-based alpha where the mark's colour is far from the content's
DETECT_PHOTOS = 40  # photos the region is found on (memory: N x 1.2 MP x 3 bytes + 4 bytes a channel)
SAMPLE = 100  # photos alpha and colour are estimated from, by default
NO_MARK = "no consistent watermark found"
MIN_EVIDENCE = 0.3  # median over the photos of mark_evidence for a mark (and each part of it) to count as shared
MIN_PART = 12  # px: a part of the estimate smaller than this, over 8 px from any other, is a speck


class NoWatermarkError(ValueError):
    """The photos do not share a watermark (or too faint to estimate)."""


@dataclass
class Watermark:
    """The estimated mark, at the size of the photos it came from."""

    alpha: np.ndarray  # H x W float32, 0..1 opacity
    colour: np.ndarray  # H x W x 3 float32, 0..255 (0 where alpha is 0)
    used: list = field(default_factory=list)  # photos the estimate is based on
    skipped: list = field(default_factory=list)  # (path, reason) of unreadable photos
    other_sizes: int = 0  # photos of other sizes, left out of the estimate
    placement: Placement | None = None  # how the mark is scaled and placed on photos of other sizes
    without: list = field(default_factory=list)  # sample photos that do not carry the mark (left out)
    cropped: int = 0  # sample photos whose mark is cut by their border (restored, not estimated from)
    fits: dict = field(default_factory=dict)  # (w, h) -> 2 x 3 map, this frame's pixel -> that size's, refined

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]

    @property
    def opaque(self) -> np.ndarray:
        return self.alpha >= OPAQUE

    @property
    def mask(self) -> np.ndarray:
        """The tight mask (bool): where the mark changes the photo."""
        return tight_mask(self.alpha)

    @property
    def bbox(self) -> tuple[int, int, int, int] | None:
        ys, xs = np.nonzero(self.alpha > 0)
        if not len(xs):
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def digest(self) -> str:
        h = hashlib.sha256(np.round(self.alpha * 255).astype(np.uint8).tobytes())
        h.update(np.round(self.colour).astype(np.uint8).tobytes())
        h.update(self.placement.to_text().encode() if self.placement is not None else b"")
        return h.hexdigest()[:16]

    def preview(self, background: int = 128) -> np.ndarray:
        """The mark over a grey background (RGB uint8), for approval."""
        a = self.alpha[..., None]
        return np.clip(a * self.colour + (1 - a) * background, 0, 255).round().astype(np.uint8)

    def save(self, mask_path: str | Path) -> list[Path]:
        """Write MASK.png (the tight mask, white = mark), MASK_alpha.png
        (opacity, 16-bit grey) and MASK_colour.png (colour, RGB); the mask
        carries a digest of alpha and colour, so a changed estimate changes
        the mask file's bytes."""
        from ..masks import user_mask_from_hole
        from ..photos.atomic import atomic_target
        from ..photos.savefile import output_format

        mask_path = Path(mask_path)
        alpha_path, colour_path = companion_paths(mask_path)
        info = PngImagePlugin.PngInfo()
        info.add_text("watermark-digest", self.digest())
        rule = PngImagePlugin.PngInfo()
        if self.placement is not None:
            info.add_text("watermark-placement", self.placement.to_text())
            rule.add_text("watermark-placement", self.placement.to_text())
            rule.add_text("watermark-fits", json.dumps({f"{w}x{h}": np.asarray(m).round(6).tolist()
                                                        for (w, h), m in self.fits.items()}))
        with atomic_target(mask_path) as tmp:
            Image.fromarray(user_mask_from_hole(self.mask)).save(tmp, output_format(mask_path), pnginfo=info)
        with atomic_target(alpha_path) as tmp:
            Image.fromarray(np.round(self.alpha * 65535).astype(np.uint16)).save(tmp, "PNG", pnginfo=rule)
        with atomic_target(colour_path) as tmp:
            Image.fromarray(np.clip(self.colour, 0, 255).round().astype(np.uint8)).save(tmp, "PNG")
        return [mask_path, alpha_path, colour_path]

    @classmethod
    def load(cls, path: str | Path) -> "Watermark":
        """From MASK.png (with MASK_alpha.png and MASK_colour.png next to it)
        or from MASK_alpha.png itself. Without a colour file, white."""
        path = Path(path)
        if path.stem.endswith("_alpha"):
            alpha_path = path
            colour_path = path.with_name(path.stem[:-len("_alpha")] + "_colour.png")
        else:
            alpha_path, colour_path = companion_paths(path)
        if not alpha_path.is_file():
            raise FileNotFoundError(f"no watermark opacity file {alpha_path} (written by watermark-mask)")
        with Image.open(alpha_path) as im:
            a = np.asarray(im)
            rule = im.info.get("watermark-placement")
            fits_text = im.info.get("watermark-fits")
        placement = Placement.from_text(rule) if rule else None
        fits = {}
        if placement is not None and fits_text:
            for key, m in json.loads(fits_text).items():
                w, h = (int(v) for v in key.split("x"))
                fits[(w, h)] = np.array(m, np.float64).reshape(2, 3)
        alpha = a.astype(np.float32) / (65535.0 if a.dtype == np.uint16 or a.max() > 255 else 255.0)
        if alpha.ndim == 3:
            alpha = alpha[..., 0]
        if colour_path.is_file():
            with Image.open(colour_path) as im:
                colour = np.asarray(im.convert("RGB"), np.float32)
            if colour.shape[:2] != alpha.shape:
                raise ValueError(f"{colour_path} is not the size of {alpha_path}")
        else:
            colour = np.full(alpha.shape + (3,), 255.0, np.float32)
        colour = colour * (alpha > 0)[..., None]
        return cls(alpha, colour, placement=placement, fits=fits)


def companion_paths(mask_path: str | Path) -> tuple[Path, Path]:
    """MASK.png -> (MASK_alpha.png, MASK_colour.png)."""
    mask_path = Path(mask_path)
    return (mask_path.with_name(f"{mask_path.stem}_alpha.png"), mask_path.with_name(f"{mask_path.stem}_colour.png"))


def tight_mask(alpha: np.ndarray, level: float = MASK_ALPHA, dilate: int = 1) -> np.ndarray:
    """Where the mark's opacity exceeds ``level``, specks dropped, grown by
    ``dilate`` px (the anti-aliased rim)."""
    m = (alpha > level).astype(np.uint8)
    h, w = m.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(6, int(h * w * 2e-6))
    m = keep[labels].astype(np.uint8)
    if dilate > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1)))
    return m.astype(bool)


# ---------------------------------------------------------------- estimation

# ---------------------------------------------------------------- estimation

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


class _Moments:
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


def _local_colour(colour: np.ndarray, known: np.ndarray, where: np.ndarray, size: int = 7) -> np.ndarray:
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


def _two_pass(moments: _Moments, region: np.ndarray, crops: Sequence[np.ndarray] = (),
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
    w_local = _local_colour(c / np.maximum(a, 1e-3)[..., None], strong, support)
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
    w_local = _local_colour(colour, (a > 0.2) & support, support)
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


def _box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    h, w = mask.shape
    return (max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
            min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin))


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


def _edge_strength(image: np.ndarray) -> np.ndarray:
    """Per pixel, the largest gradient magnitude over the channels."""
    image = image.astype(np.float32)
    planes = [image] if image.ndim == 2 else [image[..., i] for i in range(image.shape[2])]
    return np.max([_gradient_magnitude(p) for p in planes], 0)


def mark_evidence(alpha: np.ndarray, colour: np.ndarray, crops: Sequence[np.ndarray]) -> np.ndarray:
    """Per photo, how plainly it shows the estimated mark: the correlation
    of its edge strength with the mark's (alpha's and alpha * W's) over the
    mark and 3 px around it. A shared mark shows in every photo (0.5-0.9 on
    the benchmark's photos); edges that a few photos share by chance, which
    the estimate from a small folder can take for a mark, do not (below 0.4,
    median about 0.1)."""
    mark = _edge_strength(alpha * 255) + _edge_strength(alpha[..., None] * colour)
    zone = cv2.dilate((alpha > MASK_ALPHA).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    x = mark[zone] - mark[zone].mean()
    out = []
    for crop in crops:
        y = _edge_strength(crop)[zone]
        y = y - y.mean()
        out.append(float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum() + 1e-9)))
    return np.array(out)


def carries_mark(alpha: np.ndarray, colour: np.ndarray, image: np.ndarray) -> tuple[bool, float, float]:
    """Whether ``image`` (RGB, the size of ``alpha``; any crop around the
    mark) carries the mark: its edges follow the mark's (``mark_evidence``)
    more than those of the same pixels with the mark taken out. A photo
    without the mark gains the mark's inverted edges from the inversion, so
    it matches after rather than before; no threshold to tune. Returns
    (carries, evidence as is, evidence after the inversion)."""
    a = np.minimum(alpha, OPAQUE)[..., None]
    inverted = np.clip((image.astype(np.float32) - a * colour) / (1 - a), 0, 255)
    before, after = mark_evidence(alpha, colour, [image, inverted])
    return bool(before > after), float(before), float(after)


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


def _matte_in_box(moments: _Moments, region: np.ndarray, crops: Sequence[np.ndarray], box,
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


def estimate_watermark(images: Sequence[np.ndarray]) -> Watermark:
    """The shared mark (alpha, colour) of same-size RGB uint8 photos held in
    memory (at least MIN_PHOTOS; the more the better: alpha within about
    0.025 from 24 real photos, 0.018 from 40). Raises NoWatermarkError when
    they share none."""
    images = list(images)
    score = colour_consistency(images)
    region = mark_region(score)
    box = _box(region, 8)
    if box is None:
        raise NoWatermarkError(f"{NO_MARK} in {len(images)} photos")
    x0, y0, x1, y1 = box
    crops = [im[y0:y1, x0:x1] for im in images]
    alpha, colour, _, without = _matte_marked(crops, list(range(len(crops))), region, box,
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
    box = _box(region, 8)
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

    alpha, colour, used, without = _matte_marked(crops, used, region, box, size, None if second else second_mark)
    return Watermark(alpha, colour, used, skipped, other_sizes, without=without)


def _matte_marked(crops: list[np.ndarray], paths: list, region: np.ndarray, box, size: tuple[int, int],
                  second_mark: Callable[[list], Watermark] | None = None, sharpness: np.ndarray | None = None,
                  carriers: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None):
    """``_matte_in_box`` on the crops, then again on only the photos that
    carry the mark (``carries_mark``), so photos without it do not pollute
    the estimate. Returns (alpha, colour, paths used, paths without the
    mark). Refuses (NoWatermarkError) fewer than MIN_PHOTOS carriers, and a
    folder whose photos without this mark share another one
    (``second_mark(paths)`` estimates from those)."""
    moments = _Moments()
    for crop in crops:
        moments.add(crop)
    alpha, colour = _matte_in_box(moments, region, crops, box, size, len(crops), sharpness)
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
    moments = _Moments()
    for crop in kept:
        moments.add(crop)
    alpha, colour = _matte_in_box(moments, region, kept, box, size, len(kept),
                                  None if sharpness is None else sharpness[carry])
    return alpha, colour, [p for p, k in zip(paths, carry) if k], without


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
    from .watermark_placement import align, compose, find_rule, invert_map, reference_length, rule_map, warp

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
    fbox = _box(region_f, 0)
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
        moments = _Moments()
        for crop in crops:
            moments.add(crop)
        alpha, colour = _matte_in_box(moments, region, crops, box, ref_size, len(crops))
        if not (alpha > 0).any():
            break
        marked = _edge_strength(alpha[y0:y1, x0:x1] * 255) + _edge_strength(alpha[y0:y1, x0:x1, None] *
                                                                           colour[y0:y1, x0:x1])
        for size in maps:
            group = [_edge_strength(c) for c, (_, sz, _, _) in zip(crops, sources) if sz == size]
            if group:
                w = align(marked, np.mean(group, 0))
                if w is not None:
                    maps[size] = compose(maps[size], w, (x0, y0))
    crops = frame_crops()

    def second_mark(paths: list) -> Watermark:
        return _estimate_by_rule([(p, sizes[p]) for p in paths], [], sample, None, second=True)

    def carriers(alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
        src_box = _box(alpha > 0, 4)
        out = []
        for _, size, (ox, oy), src in sources:
            a, col = _map_mark(alpha, colour, invert_map(maps[size]), src_box,
                               (ox, oy, ox + src.shape[1], oy + src.shape[0]))
            out.append(carries_mark(a, col, src)[0])
        return np.array(out)

    alpha, colour, used, without = _matte_marked(crops, paths, region, box, ref_size,
                                                 None if second else second_mark, carriers=carriers)
    ys, xs = np.nonzero(alpha > 0)
    final = Placement(anchor, reference, (float((xs.min() - ax) / s), float((ys.min() - ay) / s),
                                          float((xs.max() + 1 - ax) / s), float((ys.max() + 1 - ay) / s)))
    return Watermark(alpha, colour, used, skipped, 0, placement=final, without=without, cropped=cropped,
                     fits={size: m for size, m in maps.items()})


# --------------------------------------------------------------- restoration

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
    the gain 1 / (1 - alpha)). ``inpainter``: ``model.inference.Inpainter``
    (or any ``(image, mask) -> result.refined``); None, or fewer than
    SMALL_FILL pixels to fill, uses OpenCV's Telea fill. Pixels outside the
    mark's box (+ a few px) are untouched."""
    image = np.asarray(image)
    out = image.copy()
    covered = alpha > 0
    box = _box(covered, 6)
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
            fill = inpainter(base, full_hole).refined
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

    box = _box(alpha > 0, 4)
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
        a = cv2.warpAffine(a0, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        aw = cv2.warpAffine(aw0, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
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


# ----------------------------------------------------- photos of other sizes

def _anchor(shape_src: tuple[int, int], height: int, width: int, rule: str) -> tuple[int, int]:
    """Offset (oy, ox) of a source of ``shape_src`` pinned by ``rule``
    (the same placement as ``model.batch.fit_mask``)."""
    mh, mw = shape_src
    where = rule.removeprefix("anchor-")
    oy = 0 if "top" in where else (height - mh if "bottom" in where else (height - mh) // 2)
    ox = 0 if "left" in where else (width - mw if "right" in where else (width - mw) // 2)
    return oy, ox


def _shift(src: np.ndarray, height: int, width: int, oy: int, ox: int) -> np.ndarray:
    out = np.zeros((height, width) + src.shape[2:], src.dtype)
    mh, mw = src.shape[:2]
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + mh, height), min(ox + mw, width)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = src[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return out


def _gradient_magnitude(grey: np.ndarray) -> np.ndarray:
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))


def search_mark(mark: Watermark, image: np.ndarray) -> tuple[int, int, float]:
    """Where the mark (at its pixel size) sits in ``image``: normalised
    cross-correlation of the mark's gradient magnitude with the photo's.
    Returns (oy, ox) of the mark's full frame and the score (-1..1)."""
    box = mark.bbox
    if box is None:
        return 0, 0, -1.0
    x0, y0, x1, y1 = box
    templ = _gradient_magnitude(cv2.cvtColor(mark.preview(), cv2.COLOR_RGB2GRAY).astype(np.float32)[y0:y1, x0:x1])
    photo = _gradient_magnitude(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32))
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
    from .watermark_placement import invert_map, rule_map

    alpha = np.zeros((height, width), np.float32)
    colour = np.zeros((height, width, 3), np.float32)
    src_box = _box(mark.alpha > 0, 4)
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
    a, col = _map_mark(mark.alpha, mark.colour, from_photo, src_box, box)
    x0, y0, x1, y1 = box
    alpha[y0:y1, x0:x1] = a
    colour[y0:y1, x0:x1] = col
    return alpha, colour


def _map_mark(alpha: np.ndarray, colour: np.ndarray, m: np.ndarray, src_box, out_box) -> tuple[np.ndarray, np.ndarray]:
    """alpha and colour (full frame arrays, read in ``src_box``) at the
    pixels ``out_box`` of another photo (``m``: its index -> the frame's);
    alpha and alpha * W resampled alike."""
    from .watermark_placement import warp

    sx0, sy0, sx1, sy1 = src_box
    a_src = alpha[sy0:sy1, sx0:sx1]
    aw_src = a_src[..., None] * colour[sy0:sy1, sx0:sx1]
    a = np.clip(warp(a_src, m, out_box, src_origin=(sx0, sy0)), 0, 1)
    aw = warp(aw_src, m, out_box, src_origin=(sx0, sy0))
    a[a < 0.005] = 0
    return a, np.where(a[..., None] > 0, np.clip(aw / np.maximum(a, 1e-3)[..., None], 0, 255), 0)


def place_mark(mark: Watermark, image: np.ndarray, rule: str = "error") -> tuple[np.ndarray, np.ndarray, str]:
    """alpha and colour at ``image``'s size, and how they were placed: the
    same size as is; another size by ``rule`` (``stretch``, ``anchor-*``,
    as ``batch --mask-fit``) or, for ``error`` (the default), by searching
    for the mark. Raises PhotoRefused (a ValueError) when a searched mark is not found."""
    h, w = image.shape[:2]
    mh, mw = mark.alpha.shape
    if (mh, mw) == (h, w):
        return mark.alpha, mark.colour, "same size"
    if mark.placement is not None and rule == "error":
        alpha, colour = place_by_rule(mark, w, h)
        return alpha, colour, f"placed by its rule ({mark.placement.describe()})"
    if rule == "stretch":
        size = (w, h)
        return (cv2.resize(mark.alpha, size, interpolation=cv2.INTER_LINEAR),
                cv2.resize(mark.colour, size, interpolation=cv2.INTER_LINEAR), f"stretched to {w}x{h}")
    if rule.startswith("anchor-"):
        oy, ox = _anchor((mh, mw), h, w, rule)
        how = f"{rule}"
    else:
        oy, ox, score = search_mark(mark, image)
        if score < NCC_FOUND:
            raise PhotoRefused(f"the watermark was not found in this {w}x{h} photo: best match {score:.2f} < "
                               f"{NCC_FOUND}", "mask_fit")
        how = f"found by search at offset x {ox}, y {oy} (match {score:.2f})"
    return _shift(mark.alpha, h, w, oy, ox), _shift(mark.colour, h, w, oy, ox), how


# ------------------------------------------------------------------ batch

class WatermarkRestorer:
    """What ``run_batch`` calls in place of the inpainter with ``--watermark``:
    ``restorer(image, hole).refined`` (the hole is ignored: the mark is
    placed by ``rule`` and restored)."""

    def __init__(self, mark: Watermark, rule: str = "error", inpainter=None, denoise: bool = True,
                 note: Callable[[str], None] | None = None, fit: bool = True):
        self.mark, self.rule, self.inpainter, self.denoise, self.note = mark, rule, inpainter, denoise, note
        self.placed: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, str]] = {}
        self.fit = fit  # refine the mark on each photo (fit_to_photo)
        self.noted: set[str] = set()

    def enlarged(self, width: int, height: int) -> float:
        """Photo pixels per pixel of the mark's frame (1 for its own size or without a rule)."""
        from .watermark_placement import rule_map

        mark = self.mark
        if mark.placement is None or mark.size == (width, height) or self.rule != "error":
            return 1.0
        m = mark.fits.get((width, height))
        if m is None:
            m = rule_map(mark.placement, mark.size, (width, height))
        return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))

    def bind(self, inpainter) -> "WatermarkRestorer":
        self.inpainter = inpainter
        return self

    def prepare_output(self, out_dir: Path) -> None:
        """Save the estimate to ``OUTPUT/.inpaint-watermark/`` (``run_batch``
        calls this once it holds the output folder's lock, so a refused run
        writes nothing); only when it changed, since ``--resume`` keys on it."""
        mask_path = Path(out_dir) / WATERMARK_DIR / "watermark.png"
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        if _saved_digest(mask_path) != self.mark.digest():
            self.mark.save(mask_path)

    def __call__(self, image: np.ndarray, hole: np.ndarray | None = None, should_stop=None):
        """The restored photo (``.refined``), or ``.refined`` None and a
        ``.reason`` when the photo does not carry the mark: ``run_batch``
        then copies it as is."""
        h, w = image.shape[:2]
        placed = self.placed.get((w, h)) or place_mark(self.mark, image, self.rule)
        alpha, colour, how = placed
        if not how.startswith("found by search"):  # the same for every photo of this size: placed once
            self.placed[(w, h)] = placed
        box = _box(alpha > 0, 3)
        if box is None:
            return SimpleNamespace(refined=None, reason=f"no watermark: the mark falls outside this {w}x{h} photo")
        x0, y0, x1, y1 = box
        carries, before, after = carries_mark(alpha[y0:y1, x0:x1], colour[y0:y1, x0:x1], image[y0:y1, x0:x1])
        if not carries:
            return SimpleNamespace(refined=None, reason=f"no watermark (its edges match the mark {before:.2f}, "
                                                        f"with the mark taken out {after:.2f})")
        if how != "same size" and self.note is not None and how not in self.noted:
            self.noted.add(how)
            self.note(f"{w}x{h} photo: watermark {how}")
        if self.fit:
            alpha, colour, _ = fit_to_photo(image, alpha, colour, self.enlarged(w, h))
        result = restore(image, alpha, colour, self.inpainter, self.denoise)
        return SimpleNamespace(refined=result.image, coarse=result.image, filled=result.filled)


WATERMARK_DIR = ".inpaint-watermark"  # in the output folder: the estimate the run used


def prepare_batch(options, watermark: "str | Path | Watermark" = "auto", sample: int = SAMPLE,
                  note: Callable[[str], None] | None = None):
    """Set a batch up to restore a shared watermark: estimate it (``"auto"``),
    load it (a ``watermark-mask`` output: MASK.png with MASK_alpha.png and
    MASK_colour.png) or take a ``Watermark``; save it to
    ``OUTPUT/.inpaint-watermark/`` (mask, alpha, colour; ``run_batch`` reads
    that mask, so ``--resume`` sees a changed estimate). Returns the options
    to run and a ``WatermarkRestorer`` to ``bind(inpainter)`` and pass to
    ``run_batch`` as its inpainter. Raises ``BatchError`` (usage, or
    "no consistent watermark found")."""
    from ..photos.files import cleaned_folder
    from .errors import BatchError, BatchOptionError
    from .lock import busy_message, lock_holder
    from .validation import validate_options

    if options.mask is not None or options.masks_dir is not None:
        raise BatchOptionError("{watermark} replaces {mask} and {masks_dir}: give only one of them")
    src = Path(options.input_dir)
    out = Path(options.output_dir) if options.output_dir is not None else cleaned_folder(src)
    # the restorer places the mark itself (search for other sizes); the mask only keys the job
    run = replace(options, output_dir=out, mask=out / WATERMARK_DIR / "watermark.png", mask_is_generated=True,
                  mask_fit="stretch" if options.mask_fit == "error" else options.mask_fit)
    validate_options(run)  # everything is checked, and nothing written, before the estimate
    holder = lock_holder(out)
    if holder is not None:
        raise BatchError(busy_message(out, holder))
    if isinstance(watermark, Watermark):
        mark = watermark
    elif str(watermark) == "auto":
        if sample < MIN_PHOTOS:
            raise BatchOptionError("{sample} must be at least {least}", least=MIN_PHOTOS)
        try:
            mark = watermark_from_folder(src, sample, by_rule=options.mask_fit == "error")
        except ValueError as exc:  # NoWatermarkError too
            raise BatchError(str(exc)) from None
    else:
        try:
            mark = Watermark.load(watermark)
        except (OSError, ValueError) as exc:
            raise BatchError(f"cannot read the watermark {watermark}: {exc}") from None
        if not (mark.alpha > 0).any():
            raise BatchError(f"the watermark {watermark} is empty")
    return run, WatermarkRestorer(mark, options.mask_fit, note=note)


def _saved_digest(path: Path) -> str | None:
    try:
        with Image.open(path) as im:
            return im.info.get("watermark-digest")
    except OSError:
        return None


def describe(mark: Watermark) -> str:
    """One line: box, area, opacity, colour, opaque part."""
    box = mark.bbox
    if box is None:
        return "empty watermark"
    x0, y0, x1, y1 = box
    m = mark.mask
    strong = mark.alpha > 0.1
    col = np.median(mark.colour[strong], 0) if strong.any() else np.zeros(3)
    opaque = int(mark.opaque.sum())
    rule = f"{mark.placement.describe()}; at {mark.size[0]}x{mark.size[1]}: " if mark.placement is not None else ""
    return (rule + f"box x {x0}-{x1}, y {y0}-{y1} ({x1 - x0}x{y1 - y0}), area {int(m.sum())} px, "
            f"opacity median {float(np.median(mark.alpha[strong])) if strong.any() else 0:.2f} "
            f"(max {float(mark.alpha.max()):.2f}), colour median RGB {tuple(int(v) for v in col)}"
            + (f", {opaque} px opaque (filled by the model)" if opaque else ""))
