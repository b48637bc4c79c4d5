"""The filler interface (after IOPaint's ``InpaintModel``): one way to fill a
hole, with a name, the images it gives and ``fill(image, mask) -> FillResult``.

``Filler.fill`` takes an RGB uint8 photo and a mask (non-zero = remove, the
public convention) and returns a ``FillResult``: its ``images`` by output name,
the result first (the network gives "refined" and "coarse", a classical
fill only its own result), or none and a ``reason`` when the filler left the
photo alone (the watermark restorer, on a photo without the mark). Pixels
outside the hole stay the input's. What every filler shares is done here
once: the input checks (``checked_input``), and for a filler that fills one
crop (``CropFiller``) the context crop around the holes and the paste of the
hole back into the photo. The network does its own crops (one per region, at
its run size) in ``model.inference``.
"""
from __future__ import annotations

from typing import Callable, ClassVar

import numpy as np

from ..boxes import Box
from ..masks import check_hole_fraction, hole_from_user_mask
from .options import InferenceOptions

Progress = Callable[[str, float], None]  # (step, fraction of the whole removal done)
StopCheck = Callable[[], bool]
DEFAULTS = InferenceOptions()


class Cancelled(Exception):
    """A fill stopped because its ``should_stop`` said so."""


class FillResult:
    """What a fill gives: ``images`` (RGB uint8, the photo's size) by output
    name, the filler's result first; or no images and the ``reason`` why the
    filler left the photo as it is. ``hole``: where a filler that finds its
    own hole (``Filler.finds_hole``) filled; None for the others (the hole
    is the mask they were given)."""

    reason: str = ""
    hole: np.ndarray | None = None

    def __init__(self, images: dict[str, np.ndarray], reason: str = "", hole: np.ndarray | None = None):
        self.images, self.reason, self.hole = dict(images), reason, hole

    @property
    def image(self) -> np.ndarray | None:
        """The result: the photo with the hole filled (None: left alone, see ``reason``)."""
        return next(iter(self.images.values()), None)

    def stage(self, name: str) -> np.ndarray | None:
        """The output ``name`` (e.g. "coarse"), or None when this fill has no such stage."""
        return self.images.get(name)


class Filler:
    """One way to fill a hole. Subclasses set ``name`` (the registry's),
    ``outputs`` (the images a fill gives, the result first: earlier stages
    follow it) and implement ``fill``; ``load`` makes one from the common
    settings. ``finds_hole``: the filler places its own hole (the watermark
    restorer) and ignores the mask it is given."""

    name: ClassVar[str] = ""
    outputs: ClassVar[tuple[str, ...]] = ()
    finds_hole: ClassVar[bool] = False
    # what a model-less filler reports where the app and the commands show the model's
    weights_path = None
    device = None
    meta: dict = {}

    @classmethod
    def load(cls, weights=None, device: str = "auto", **settings) -> "Filler":
        """The filler for ``weights`` on ``device`` with ``settings``
        (``InferenceOptions`` fields and the like; those it has no use for
        are ignored)."""
        raise NotImplementedError

    @classmethod
    def missing(cls) -> str | None:
        """Why this filler cannot run here (a library not installed), or None."""
        return None

    def hole_key(self) -> str:
        """For a filler that finds its own hole: what that hole depends on (a
        batch's ``--resume`` redoes the photos when it changes)."""
        return ""

    def prepare_output(self, out_dir) -> None:
        """Write the filler's own files into a batch's output folder (the
        watermark restorer's estimate); called once the batch holds the
        folder's lock, so a refused run writes nothing."""

    @property
    def stages(self) -> tuple[str, ...]:
        """The outputs besides the result (the network's "coarse"); empty for a one-stage fill."""
        return self.outputs[1:]

    def fill(self, image: np.ndarray, mask: np.ndarray | None, should_stop: StopCheck | None = None,
             progress: Progress | None = None) -> FillResult:
        raise NotImplementedError

    def __call__(self, image: np.ndarray, mask: np.ndarray | None, should_stop: StopCheck | None = None,
                 progress: Progress | None = None) -> FillResult:
        return self.fill(image, mask, should_stop=should_stop, progress=progress)


def checked_input(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo (RGB uint8 H x W x 3) and the bool hole of ``mask``
    (non-zero = remove); ValueError for another image type, a mask of
    another size or a hole that leaves too little context."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB uint8 H x W x 3, got {image.dtype} {image.shape}")
    hole = hole_from_user_mask(mask)
    if hole.shape != image.shape[:2]:
        raise ValueError(f"mask size {hole.shape[1]}x{hole.shape[0]} does not match "
                         f"image size {image.shape[1]}x{image.shape[0]}")
    check_hole_fraction(hole)  # too little context left: a clear ValueError
    return image, hole


def context_box(hole: np.ndarray, context: float = DEFAULTS.context, min_margin: int = 64) -> Box:
    """The holes' bounding box grown by ``context`` x its longer side (as
    the network's crops are), at least ``min_margin`` px, clipped to the
    image: what a ``CropFiller`` fills, not the whole 12 MP photo (the same
    result for Telea, whose fill reads only a few pixels around the hole;
    PatchMatch gets the context the network gets)."""
    ys, xs = np.nonzero(hole)
    m = max(min_margin, int(context * max(np.ptp(ys) + 1, np.ptp(xs) + 1)))
    h, w = hole.shape
    return Box(max(0, xs.min() - m), max(0, ys.min() - m), min(w, xs.max() + 1 + m), min(h, ys.max() + 1 + m))


class CropFiller(Filler):
    """A filler that fills one image at a time (a classical fill, a model
    without crops of its own): ``fill`` checks the input, cuts the context
    crop around the holes (``context_box``; the whole image with
    ``whole_image``), calls ``fill_crop`` on it and pastes the crop's hole
    back into a copy of the photo. Its one output is named after it."""

    device = "cpu"  # a classical fill runs on the CPU

    def __init__(self, context: float = DEFAULTS.context, whole_image: bool = False):
        self.context, self.whole_image = context, whole_image

    @classmethod
    def load(cls, weights=None, device: str = "auto", context: float = DEFAULTS.context,
             whole_image: bool = False, **_ignored) -> "CropFiller":
        """No weights, no device: only the crop's ``context`` counts."""
        problem = cls.missing()
        if problem is not None:
            raise RuntimeError(problem)
        return cls(context, whole_image)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.outputs = (cls.name,)

    def fill_crop(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """``image`` (a contiguous crop) with ``hole`` (bool, any) filled."""
        raise NotImplementedError

    def fill(self, image: np.ndarray, mask: np.ndarray | None, should_stop: StopCheck | None = None,
             progress: Progress | None = None) -> FillResult:
        image, hole = checked_input(image, mask)
        out = image.copy()
        if hole.any():
            if should_stop is not None and should_stop():
                raise Cancelled()
            if progress is not None:
                progress("fill", 0.0)
            h, w = hole.shape
            box = Box(0, 0, w, h) if self.whole_image else context_box(hole, self.context)
            crop_hole = np.ascontiguousarray(hole[box.slices])
            filled = self.fill_crop(np.ascontiguousarray(image[box.slices]), crop_hole)
            out[box.slices][crop_hole] = filled[crop_hole]
            if progress is not None:
                progress("fill", 1.0)
        return FillResult({self.name: out})
