"""The one inference path: the GUI, the batch CLI, eval and the trainer's
previews all call ``Inpainter``.

High-resolution photos are handled region by region: each connected hole
(near ones merged) gets a crop with context, resized so the network sees it
at its run size (``cfg.run_size``, stored with the weights); only the (slightly dilated, feathered) hole is
pasted back, so every other pixel stays bit-identical to the input.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np
import torch

from .checkpoint import load_network
from .devices import autocast, resolve_device
from .fill.base import Cancelled, Filler, FillResult, Progress, checked_input
from .fill.options import InferenceOptions
from .network import InpaintNet
from .paths import resolve_weights
from .prefill import network_inputs
from . import patch_search
from .boxes import Box
from .texture import TextureOptions, TextureRun

DEFAULTS = InferenceOptions()


@dataclass
class CropResult:
    """What the network saw and produced for one region, at model resolution."""

    box: Box  # where the crop lies in the full image
    image: np.ndarray  # RGB uint8 input crop, resized
    hole: np.ndarray  # bool, True = missing
    coarse: np.ndarray  # stage-1 composite, RGB uint8
    refined: np.ndarray  # stage-2 composite, RGB uint8


@dataclass
class InpaintResult(FillResult):
    """The network's fill: its outputs are "refined" (the result) and "coarse"."""
    coarse: np.ndarray  # full-resolution stage-1 composite, RGB uint8
    refined: np.ndarray  # full-resolution stage-2 composite, RGB uint8
    crops: list[CropResult] = field(default_factory=list)

    @property
    def images(self) -> dict[str, np.ndarray]:
        return {"refined": self.refined, "coarse": self.coarse}


def seconds_left(elapsed: float, fraction: float) -> float | None:
    """The time a removal has left at its pace so far; None until that can be
    guessed (5 % and 2 s in) or once it is done."""
    if fraction < 0.05 or elapsed < 2.0 or fraction >= 1.0:
        return None
    return elapsed * (1.0 - fraction) / fraction


class _StepCounter:
    """Counts a removal's units of work (network batches, texture searches)
    and tells ``progress`` the step and the fraction done."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def report(self, step: str) -> None:
        if self.progress is not None:
            self.progress(step, min(1.0, self.done / max(1, self.total)))

    def advance(self, step: str, units: int = 1) -> None:
        self.done += units
        self.report(step)


class Inpainter(Filler):
    """``Inpainter(weights=None, device="auto")(image, mask)`` -> InpaintResult:
    the network's filler (``model.fill``: "network").

    image: RGB uint8 H x W x 3; mask: H x W, non-zero = remove.
    ``context`` is the margin of context around each hole as a fraction of the
    hole's size; ``dilate`` grows the pasted region by a few pixels, over
    which the fill is feathered into the photo. ``run_size`` is the longest
    crop side the network sees (default: the run_size stored with the weights).
    ``scales``: fractions of that resolution to fill each crop at, averaged
    (default: the model's ``run_scales``, stored with its weights).
    ``texture``: finish stage 2 with the texture step (``model.texture``):
    the hole is rebuilt at the photo's full resolution from the photo's own
    patches, guided by the network's refined fill; off, "refined" is the
    network's stage-2 output alone.
    """

    name = "network"
    outputs = ("refined", "coarse")

    def __init__(self, weights: str | os.PathLike | None = None, device: str | torch.device = "auto",
                 context: float = DEFAULTS.context, dilate: int = DEFAULTS.dilate, feather: bool = DEFAULTS.feather,
                 run_size: int | None = None, scales: tuple[float, ...] | None = None,
                 texture: bool = DEFAULTS.texture, texture_options: TextureOptions | None = None):
        self.device = resolve_device(device)
        self.weights_path = resolve_weights(weights)
        net, ckpt = load_network(self.weights_path, self.device)
        self._setup(net, context, dilate, feather, run_size, scales, texture, texture_options)
        self.meta = ckpt.get("meta", {})

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None, device: str | torch.device = "auto",
             **settings) -> "Inpainter":
        """``Inpainter(weights, device, **settings)`` (the registry's way in)."""
        return cls(weights, device, **settings)

    @classmethod
    def from_network(cls, net: InpaintNet, context: float = DEFAULTS.context, dilate: int = DEFAULTS.dilate,
                     feather: bool = DEFAULTS.feather, run_size: int | None = None,
                     scales: tuple[float, ...] | None = None, texture: bool = DEFAULTS.texture,
                     texture_options: TextureOptions | None = None) -> "Inpainter":
        """Wrap a network in memory (the trainer's previews)."""
        self = cls.__new__(cls)
        self.device = next(net.parameters()).device
        self.weights_path = None
        self.meta = {}
        self._setup(net, context, dilate, feather, run_size, scales, texture, texture_options)
        return self

    def _setup(self, net: InpaintNet, context: float, dilate: int, feather: bool,
               run_size: int | None, scales: tuple[float, ...] | None, texture: bool,
               texture_options: TextureOptions | None) -> None:
        self.net = net.to(memory_format=torch.channels_last)  # faster convs on CPU and GPU
        self.cfg = net.cfg
        self.run_size = run_size or net.cfg.run_size
        self.scales = tuple(scales or net.cfg.run_scales)
        if not self.scales or not all(0 < s <= 1 for s in self.scales):
            raise ValueError(f"scales must be fractions in (0, 1], not {self.scales}")
        self.context = context
        self.dilate = dilate
        self.feather = feather
        self.texture = texture
        self.texture_options = texture_options or TextureOptions()
        self._lock = threading.Lock()  # one forward at a time per model

    # ------------------------------------------------------------------ api
    def fill(self, image: np.ndarray, mask: np.ndarray,
             should_stop: Callable[[], bool] | None = None,
             progress: Progress | None = None) -> InpaintResult:
        """``progress(step, fraction)``, if given, hears each step as it goes
        ("regions", "network", "texture") with the fraction of the whole
        removal done (network batches and texture searches counted alike)."""
        image, hole = checked_input(image, mask)
        coarse, refined = image.copy(), image.copy()
        if not hole.any():
            return InpaintResult(coarse, refined)

        paste = _dilate(hole, self.dilate)
        alpha = _feather_alpha(hole, paste, self.dilate if self.feather else 0)
        if progress is not None:
            progress("regions", 0.0)
        boxes = self.region_boxes(paste)
        # the texture step's searches run on worker threads while the network runs
        texture = TextureRun(image, hole, boxes, self.texture_options, self.device, should_stop) \
            if self.texture else None
        finished = False
        try:
            steps = _StepCounter(progress, texture.searches if texture is not None else 0)
            crops = self._run_crops(image, hole, boxes, should_stop, steps)
            for crop in crops:
                if should_stop is not None and should_stop():
                    raise Cancelled()
                x0, y0, x1, y1 = box = crop.box
                size = (x1 - x0, y1 - y0)
                coarse_fill, refined_fill = (
                    fill if fill.shape[1::-1] == size else cv2.resize(fill, size, interpolation=cv2.INTER_CUBIC)
                    for fill in (crop.coarse, crop.refined))
                if texture is not None:
                    steps.report("texture")
                    refined_fill = texture.finish(box, refined_fill, max(crop.refined.shape[:2]))
                    steps.advance("texture", texture.searches_of(box))
                _paste(coarse[y0:y1, x0:x1], coarse_fill, alpha[y0:y1, x0:x1])
                _paste(refined[y0:y1, x0:x1], refined_fill, alpha[y0:y1, x0:x1])
            finished = True
        except patch_search.Cancelled:
            raise Cancelled() from None
        finally:
            if texture is not None:
                texture.close(finished)
        return InpaintResult(coarse, refined, crops)

    def region_boxes(self, paste: np.ndarray) -> list[Box]:
        """Boxes around each connected region of ``paste`` with context,
        at least the run size where the image allows, overlaps merged."""
        h, w = paste.shape
        count, _, stats, _ = cv2.connectedComponentsWithStats(paste.astype(np.uint8), connectivity=8)
        boxes = []
        for x, y, bw, bh, _ in stats[1:count]:
            margin = max(8, int(self.context * max(bw, bh)))
            boxes.append(_fit_box((x - margin, y - margin, x + bw + margin, y + bh + margin),
                                  self.run_size, w, h))
        return _merge_boxes(boxes, self.run_size, w, h)

    # ------------------------------------------------------------ internals
    def _run_crops(self, image: np.ndarray, hole: np.ndarray, boxes: list[Box],
                   should_stop: Callable[[], bool] | None = None,
                   steps: "_StepCounter | None" = None) -> list[CropResult]:
        """Fill each crop at the run resolution (and at each coarser scale,
        averaging the fills inside the hole); results at the run resolution.
        Crops of the same size go through the network in one batch."""
        prepared = []
        for x0, y0, x1, y1 in boxes:
            base = min(1.0, self.run_size / max(y1 - y0, x1 - x0))
            prepared.append(_resize_crop(image[y0:y1, x0:x1], hole[y0:y1, x0:x1], base))
        sums = [[0.0, 0.0] for _ in prepared]  # coarse, refined per crop
        if steps is not None:  # one unit of progress per batch: one per crop size and scale
            steps.total += sum(len({_scaled_size(crop.shape[:2], scale) for crop, _ in prepared})
                               for scale in self.scales)
        for scale in self.scales:
            small = [_resize_crop(crop, crop_hole, scale) for crop, crop_hole in prepared]
            groups: dict[tuple[int, int], list[int]] = {}
            for i, (crop, _) in enumerate(small):
                groups.setdefault(crop.shape[:2], []).append(i)
            for members in groups.values():
                if should_stop is not None and should_stop():
                    raise Cancelled()
                if steps is not None:
                    steps.report("network")
                outputs = self._run_network([small[i][0] for i in members], [small[i][1] for i in members])
                if steps is not None:
                    steps.advance("network")
                for i, fills in zip(members, outputs):
                    shape = prepared[i][0].shape
                    for k, fill in enumerate(fills):
                        if fill.shape != shape:
                            fill = cv2.resize(fill, shape[1::-1], interpolation=cv2.INTER_CUBIC)
                        sums[i][k] = sums[i][k] + fill
        results = []
        for box, (crop, crop_hole), totals in zip(boxes, prepared, sums):
            fills = []
            for total in totals:
                out = crop.copy()  # existing pixels stay exactly the input's
                out[crop_hole] = np.clip(total[crop_hole] / len(self.scales), 0, 255).round().astype(np.uint8)
                fills.append(out)
            results.append(CropResult(box, crop, crop_hole, *fills))
        return results

    def _run_network(self, crops: list[np.ndarray], holes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Both stages' composites for crops of one size (one batch), each as
        float32 RGB 0..255."""
        inputs = [network_inputs(crop, crop_hole, self.cfg.prefill) for crop, crop_hole in zip(crops, holes)]
        with self._lock, torch.inference_mode(), autocast(self.device):
            img_t, known_t, fill_t = (torch.stack(ts).to(self.device).contiguous(memory_format=torch.channels_last)
                                      for ts in zip(*inputs))
            out = self.net(img_t, known_t, fill_t)
            coarse, refined = (((t.float().permute(0, 2, 3, 1) + 1) * 127.5).cpu().numpy()
                               for t in (out.coarse_composite, out.refined_composite))
        return list(zip(coarse, refined))


def _resize_crop(crop: np.ndarray, crop_hole: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    if scale >= 1.0:
        return crop, crop_hole
    size = _scaled_size(crop.shape[:2], scale)
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    # Any hole pixel under a model pixel makes it missing (never leak the object).
    small_hole = cv2.resize(crop_hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return small, small_hole


def _scaled_size(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """(width, height) of an image of ``shape`` (rows, columns) at ``scale`` (at most 1)."""
    if scale >= 1.0:
        return shape[1], shape[0]
    return max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale))


def _dilate(hole: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return hole.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(hole.astype(np.uint8), kernel).astype(bool)


def _feather_alpha(hole: np.ndarray, paste: np.ndarray, width: int) -> np.ndarray:
    """1 inside the hole, falling to 0 across the dilation band, 0 outside ``paste``."""
    if width <= 0:
        return paste.astype(np.float32)
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    alpha = np.clip(1.0 - dist / (width + 1), 0.0, 1.0).astype(np.float32)
    alpha[~paste] = 0.0
    return alpha


def _paste(dst: np.ndarray, fill: np.ndarray, alpha: np.ndarray) -> None:
    """Blend ``fill`` into ``dst`` in place; pixels with alpha 0 are untouched."""
    sel = alpha > 0
    a = alpha[sel][:, None]
    dst[sel] = np.round(a * fill[sel] + (1 - a) * dst[sel]).astype(np.uint8)


def _fit_box(box: Box, min_size: int, w: int, h: int) -> Box:
    """Clip to the image, growing the box (centred) to at least min_size per
    side where the image allows, so small holes are not upscaled."""
    x0, y0, x1, y1 = box

    def span(a: int, b: int, limit: int) -> tuple[int, int]:
        need = min(max(b - a, min_size), limit)
        centre = (a + b) / 2
        a = int(round(centre - need / 2))
        a = min(max(a, 0), limit - need)
        return a, a + need

    x0, x1 = span(int(x0), int(x1), w)
    y0, y1 = span(int(y0), int(y1), h)
    return Box(x0, y0, x1, y1)


def _merge_boxes(boxes: list[Box], min_size: int, w: int, h: int) -> list[Box]:
    """Union overlapping boxes until none overlap."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    boxes[i] = _fit_box(union, min_size, w, h)
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes
