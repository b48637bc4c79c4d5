"""Restore photos under a folder's shared semi-transparent watermark instead
of repainting it: ``python main.py batch DIR --watermark auto``.

``prepare_batch`` estimates the mark (``watermark_estimate.py``: where, then
opacity and colour by ``watermark_matte.py``; ``watermark_placement.py`` for
photos of several sizes) or loads it (``watermark_model.py``), and
``WatermarkRestorer`` is the filler ``run_batch`` runs (``model.fill``): it
places the mark on each photo itself (the run has no mask) and inverts the
blend (``watermark_unblend.py``); a photo that does not carry the mark is
left as it is (``run_batch`` copies it).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..fill.base import Filler, FillResult
from .watermark_estimate import watermark_from_folder
from .watermark_matte import carries_mark
from .watermark_model import Watermark, tight_mask
from .watermark_options import MIN_PHOTOS, SAMPLE
from .watermark_placement import box_around, place_mark, rule_map
from .watermark_unblend import fit_to_photo, restore


class WatermarkRestorer(Filler):
    """The filler of ``batch --watermark``: it places the mark in each photo
    itself (by ``rule``; ``finds_hole``: the batch gives it no mask) and
    restores the photo under it; where the mark is opaque, the filler it is
    bound to (``bind``: the network, or any other) fills. Not in the
    registry: it needs an estimate (``prepare_batch``)."""

    name = "watermark"
    outputs = ("restored",)
    finds_hole = True

    def __init__(self, mark: Watermark, rule: str = "error", inpainter=None, denoise: bool = True,
                 note: Callable[[str], None] | None = None, fit: bool = True):
        self.mark, self.rule, self.inpainter, self.denoise, self.note = mark, rule, inpainter, denoise, note
        self.placed: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, str]] = {}
        self.fit = fit  # refine the mark on each photo (fit_to_photo)
        self.noted: set[str] = set()

    def enlarged(self, width: int, height: int) -> float:
        """Photo pixels per pixel of the mark's frame (1 for its own size or without a rule)."""
        mark = self.mark
        if mark.placement is None or mark.size == (width, height) or self.rule != "error":
            return 1.0
        m = mark.fits.get((width, height))
        if m is None:
            m = rule_map(mark.placement, mark.size, (width, height))
        return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))

    def bind(self, inpainter: Filler) -> "WatermarkRestorer":
        self.inpainter = inpainter
        return self

    def hole_key(self) -> str:
        return f"watermark {self.mark.digest()} {self.rule}"

    def prepare_output(self, out_dir: Path) -> None:
        """Save the estimate to ``OUTPUT/.inpaint-watermark/`` (``run_batch``
        calls this once it holds the output folder's lock, so a refused run
        writes nothing); only when it changed."""
        mask_path = Path(out_dir) / WATERMARK_DIR / "watermark.png"
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        if _saved_digest(mask_path) != self.mark.digest():
            self.mark.save(mask_path)

    def fill(self, image: np.ndarray, mask: np.ndarray | None = None, should_stop=None, progress=None) -> FillResult:
        """The restored photo, and where the mark was (``hole``); or no image
        and the ``reason`` when the photo does not carry the mark (``run_batch``
        then copies it as is). ``mask`` is ignored: the mark is placed by ``rule``."""
        h, w = image.shape[:2]
        placed = self.placed.get((w, h)) or place_mark(self.mark, image, self.rule)
        alpha, colour, how = placed
        if not how.startswith("found by search"):  # the same for every photo of this size: placed once
            self.placed[(w, h)] = placed
        box = box_around(alpha > 0, 3)
        if box is None:
            return FillResult({}, f"no watermark: the mark falls outside this {w}x{h} photo")
        x0, y0, x1, y1 = box
        carries, before, after = carries_mark(alpha[y0:y1, x0:x1], colour[y0:y1, x0:x1], image[y0:y1, x0:x1])
        if not carries:
            return FillResult({}, f"no watermark (taking the mark out would roughen it: "
                                  f"{before:.1f} -> {after:.1f})")
        if how != "same size" and self.note is not None and how not in self.noted:
            self.noted.add(how)
            self.note(f"{w}x{h} photo: watermark {how}")
        hole = tight_mask(alpha)  # where the mark is, as placed
        if self.fit:
            alpha, colour, _ = fit_to_photo(image, alpha, colour, self.enlarged(w, h))
        result = restore(image, alpha, colour, self.inpainter, self.denoise)
        return FillResult({"restored": result.image}, hole=hole)


WATERMARK_DIR = ".inpaint-watermark"  # in the output folder: the estimate the run used


def prepare_batch(options, watermark: "str | Path | Watermark" = "auto", sample: int = SAMPLE,
                  note: Callable[[str], None] | None = None):
    """Set a batch up to restore a shared watermark: estimate it (``"auto"``),
    load it (a ``watermark-mask`` output: MASK.png with MASK_alpha.png and
    MASK_colour.png) or take a ``Watermark``. Returns the options to run and
    a ``WatermarkRestorer`` to ``bind(filler)`` and pass to ``run_batch`` as
    its filler: it saves the estimate to ``OUTPUT/.inpaint-watermark/``
    (mask, alpha, colour) once the run holds the folder, and ``--resume``
    keys on it (``hole_key``). Raises ``BatchError`` (usage, or "no
    consistent watermark found")."""
    from ..photos.files import cleaned_folder
    from .errors import BatchError, BatchOptionError
    from .lock import busy_message, lock_holder
    from .validation import validate_options

    if options.mask is not None or options.masks_dir is not None:
        raise BatchOptionError("{watermark} replaces {mask} and {masks_dir}: give only one of them")
    src = Path(options.input_dir)
    out = Path(options.output_dir) if options.output_dir is not None else cleaned_folder(src)
    run = replace(options, output_dir=out)
    validate_options(run, finds_hole=True)  # everything is checked, and nothing written, before the estimate
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
