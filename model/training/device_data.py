"""Training batches made where the network runs (``--pipeline device``).

The photos are decoded once, scaled as ``CropDataset`` scales them, and kept
as uint8 tensors on the device; every step's crops, flips, hole masks and
prefill are then made there with torch operations, so a GPU is not left
waiting on CPU loaders (Telea, the cv2 mask drawing). Batch ``step`` is a
pure function of (seed, step, batch size): its random numbers are drawn on
the CPU with numpy from that seed (a few hundred numbers a step), so a
resumed run sees the batches an unbroken one would have, on any device.

The holes are drawn like ``model.masks.random_mask``'s (brush strokes,
lines, discs, rectangles, ellipses and object-like blobs, of the same sizes
relative to the crop), as a distance field: a pixel's distance to the nearest
element, negative inside. The hole is that field below a per-crop threshold
chosen so the hole covers exactly the drawn area: a threshold above zero
grows every element, below zero shrinks it, as ``random_mask`` dilates or
erodes to fit its area.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..prefill import DEVICE_PREFILLS, harmonic_fill
from .data import decode_for_training, photo_index

MAX_ELEMENTS = 12  # strokes, shapes or blobs in one hole (fewer for small holes)
STROKE_SEGMENTS = 9  # the most segments a stroke has (random_mask: 3 to 9)
_ELEMENT_CHUNK = 1 << 24  # distance-field elements computed at once (bounds the memory)


class DeviceBatches:
    """``batch(step)`` -> (truth, known, prefill), each batch x C x size x size
    float32 on ``device``, as the trainer's DataLoader gives them."""

    def __init__(self, photos: list[Path], size: int, prefill: str, hole_area: tuple[float, float],
                 batch_size: int, device: torch.device, seed: int = 0, max_side: int | None = None):
        if not photos:
            raise ValueError("no photos to train on")
        if prefill not in DEVICE_PREFILLS:
            raise ValueError(f"the {prefill} prefill cannot be made on the device; use one of {DEVICE_PREFILLS}")
        self.size = size
        self.prefill = prefill
        self.hole_area = hole_area
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.seed = seed
        max_side = max_side or 4 * size
        # uint8, channels first: 51 photos at a 1024 px short side are about 250 MB
        self.photos = [torch.tensor(decode_for_training(p, size, max_side)).permute(2, 0, 1).contiguous()
                       .to(self.device) for p in photos]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, 101])
        first = step * self.batch_size
        crops = [self._crop(photo_index(self.seed, len(self.photos), first + i), rng)
                 for i in range(self.batch_size)]
        truth = torch.stack(crops) / 127.5 - 1
        hole = random_holes(self.batch_size, self.size, self.hole_area, rng, self.device)
        known = (~hole).float()[:, None]
        if self.prefill == "harmonic":
            filled = harmonic_fill(truth, known)
        else:
            filled = torch.zeros_like(truth)
        return truth, known, filled

    def _crop(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        """A square crop of photo ``index``: side log-uniform between the
        output size and the short side (close-ups and wide views), scaled to
        the output size, flipped left-right half the time; float 0..255."""
        photo = self.photos[index]
        h, w = photo.shape[-2:]
        short = min(h, w)
        side = int(round(math.exp(rng.uniform(math.log(self.size), math.log(short))))) if short > self.size else short
        y = int(rng.integers(0, h - side + 1))
        x = int(rng.integers(0, w - side + 1))
        crop = photo[None, :, y:y + side, x:x + side].float()
        if side != self.size:
            crop = F.interpolate(crop, size=(self.size, self.size), mode="bilinear", antialias=True,
                                 align_corners=False).clamp(0, 255)
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        return crop[0]


# ------------------------------------------------------------------ holes

def _element_params(target: np.ndarray, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The random elements of holes of areas ``target``, as arrays of
    primitive shapes (capsules, ellipses, boxes, blobs) with an 'active'
    flag; sizes follow ``model.masks``' generator, relative to the crop side
    ``size``, and so does the number of elements: more for a larger hole."""
    s = float(size)
    count, n_el = len(target), MAX_ELEMENTS
    kind = rng.integers(0, 3, (count, n_el))  # 0 stroke, 1 shape, 2 blob
    n_used = np.minimum(rng.integers(1, 3 + np.round(target * 16).astype(np.int64)), n_el)
    used = np.arange(n_el)[None] < n_used[:, None]
    shape_kind = rng.integers(0, 4, (count, n_el))  # line, circle, rectangle, ellipse

    # strokes: a polyline of random turns, thick; its segments become capsules
    segs = STROKE_SEGMENTS
    n_seg = rng.integers(3, segs + 1, (count, n_el))
    width = np.maximum(2.0, rng.uniform(0.02, 0.08, (count, n_el)) * s)
    angle = rng.uniform(0, 2 * math.pi, (count, n_el))[..., None] + np.cumsum(
        rng.uniform(-1.2, 1.2, (count, n_el, segs)), axis=-1)
    length = rng.uniform(0.05, 0.25, (count, n_el, segs)) * s
    xs = [rng.uniform(0, s, (count, n_el))]
    ys = [rng.uniform(0, s, (count, n_el))]
    for k in range(segs):
        xs.append(np.clip(xs[-1] + length[..., k] * np.cos(angle[..., k]), 0, s - 1))
        ys.append(np.clip(ys[-1] + length[..., k] * np.sin(angle[..., k]), 0, s - 1))
    xs, ys = np.stack(xs, -1), np.stack(ys, -1)
    stroke_on = (used & (kind == 0))[..., None] & (np.arange(segs) < n_seg[..., None])
    capsules = np.stack([xs[..., :-1], ys[..., :-1], xs[..., 1:], ys[..., 1:],
                         np.broadcast_to(width[..., None] / 2, xs[..., 1:].shape)], -1)

    # shapes: a thick line (one more capsule), a disc, a rectangle or an ellipse
    cx, cy = rng.uniform(0, s, (count, n_el)), rng.uniform(0, s, (count, n_el))
    shape_size = np.maximum(2.0, rng.uniform(0.03, 0.15, (count, n_el)) * s)
    line_angle = rng.uniform(0, math.pi, (count, n_el))
    line_len = shape_size * rng.uniform(2, 5, (count, n_el))
    line = np.stack([cx, cy, cx + line_len * np.cos(line_angle), cy + line_len * np.sin(line_angle),
                     np.maximum(2.0, shape_size / 3) / 2], -1)
    capsules = np.concatenate([capsules.reshape(count, -1, 5), line], axis=1)
    capsule_on = np.concatenate([stroke_on.reshape(count, -1), used & (kind == 1) & (shape_kind == 0)], axis=1)
    half_a = shape_size * rng.uniform(0.5, 2, (count, n_el))
    half_b = shape_size * rng.uniform(0.5, 2, (count, n_el))
    disc = shape_kind == 1
    ellipses = np.stack([cx, cy, np.where(disc, shape_size, half_a), np.where(disc, shape_size, half_b),
                         rng.uniform(0, math.pi, (count, n_el))], -1)
    ellipse_on = used & (kind == 1) & ((shape_kind == 1) | (shape_kind == 3))
    boxes = np.stack([cx, cy, half_a, half_b], -1)
    box_on = used & (kind == 1) & (shape_kind == 2)

    # blobs: a star-shaped outline with low-frequency radial noise (harmonics 2, 3, 5)
    blobs = np.concatenate([rng.uniform(0.1, 0.9, (count, n_el, 2)) * s,
                            (rng.uniform(0.06, 0.2, (count, n_el)) * s)[..., None],
                            rng.uniform(0.5, 1.5, (count, n_el, 1)),
                            rng.uniform(-0.25, 0.25, (count, n_el, 3)),
                            rng.uniform(0, 2 * math.pi, (count, n_el, 3))], -1)
    blob_on = used & (kind == 2)
    m = int(n_used.max())  # elements no hole uses are not computed
    capsules, capsule_on = capsules[:, np.r_[:m * segs, n_el * segs:n_el * segs + m]], \
        capsule_on[:, np.r_[:m * segs, n_el * segs:n_el * segs + m]]
    ellipses, ellipse_on, boxes, box_on = ellipses[:, :m], ellipse_on[:, :m], boxes[:, :m], box_on[:, :m]
    blobs, blob_on = blobs[:, :m], blob_on[:, :m]
    return {"capsules": capsules, "capsule_on": capsule_on, "ellipses": ellipses, "ellipse_on": ellipse_on,
            "boxes": boxes, "box_on": box_on, "blobs": blobs, "blob_on": blob_on}


def _distance(kind: str, p: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Distance (pixels, negative inside) of the grid points x, y (1 x 1 x N)
    to primitives ``p`` (B x K x params), B x K x N."""
    col = [p[..., i:i + 1] for i in range(p.shape[-1])]
    if kind == "capsules":
        x0, y0, x1, y1, r = col
        bx, by = x1 - x0, y1 - y0
        t = (((x - x0) * bx + (y - y0) * by) / (bx * bx + by * by).clamp(min=1e-6)).clamp(0, 1)
        return torch.hypot(x - x0 - t * bx, y - y0 - t * by) - r
    if kind == "ellipses":
        cx, cy, a, b, theta = col
        c, s = torch.cos(theta), torch.sin(theta)
        u, v = (x - cx) * c + (y - cy) * s, -(x - cx) * s + (y - cy) * c
        return (torch.hypot(u / a, v / b) - 1) * torch.minimum(a, b)
    if kind == "boxes":
        cx, cy, hx, hy = col
        qx, qy = (x - cx).abs() - hx, (y - cy).abs() - hy
        return torch.hypot(qx.clamp(min=0), qy.clamp(min=0)) + torch.maximum(qx, qy).clamp(max=0)
    cx, cy, radius, aspect, a2, a3, a5, p2, p3, p5 = col  # blobs
    u, v = (x - cx) / aspect, y - cy
    phi = torch.atan2(v, u)
    r = radius * (1 + a2 * torch.cos(2 * phi + p2) + a3 * torch.cos(3 * phi + p3) + a5 * torch.cos(5 * phi + p5))
    return torch.hypot(u, v) - r


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A small CPU array on ``device``; to CUDA through pinned memory, so the
    copy does not make the CPU wait for the GPU's queue."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def random_holes(count: int, size: int, area: tuple[float, float], rng: np.random.Generator,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """``count`` bool hole maps (count x size x size, True = missing) on
    ``device``, each covering a fraction of the crop drawn uniformly from
    ``area`` (to the pixel). Reproducible: the same generator state gives the
    same holes."""
    lo, hi = area
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"area range must satisfy 0 <= lo <= hi <= 1, got {area}")
    device = torch.device(device)
    target = rng.uniform(lo, hi, count)
    params = _element_params(target, size, rng)
    # The field is smooth away from the elements' middles: computed at half
    # resolution and interpolated, for a quarter of the work.
    half = (size + 1) // 2
    coords = (torch.arange(half, device=device, dtype=torch.float32) + 0.5) * (size / half) - 0.5
    y = coords[:, None].expand(half, half).reshape(1, 1, -1)
    x = coords[None, :].expand(half, half).reshape(1, 1, -1)
    field = torch.full((count, half * half), math.inf, device=device)
    for kind, flag in (("capsules", "capsule_on"), ("ellipses", "ellipse_on"), ("boxes", "box_on"),
                       ("blobs", "blob_on")):
        prims = _to_device(params[kind].astype(np.float32), device)
        on = _to_device(params[flag], device)
        step = max(1, _ELEMENT_CHUNK // (count * half * half))
        for k in range(0, prims.shape[1], step):
            d = _distance(kind, prims[:, k:k + step], x, y)
            d = torch.where(on[:, k:k + step, None], d, math.inf)
            field = torch.minimum(field, d.amin(dim=1))
    field = F.interpolate(field.view(count, 1, half, half), size=(size, size), mode="bilinear",
                          align_corners=False).view(count, -1)
    # the threshold that makes each hole exactly its drawn area
    n = size * size
    kth = _to_device(np.clip(np.round(target * n), 1, n).astype(np.int64), device)
    ordered = torch.sort(field, dim=1).values
    threshold = ordered.gather(1, (kth - 1)[:, None])
    return (field <= threshold).view(count, size, size)
