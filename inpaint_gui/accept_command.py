"""Accepting a removal result as one undoable step.

``AcceptCommand`` goes on the mask's ``QUndoStack``, so one Ctrl+Z history runs
through strokes and accepts alike: undo puts back the photo bit for bit and the
mask that was removed, and the strokes before it stay undoable. Like the mask
commands it keeps only the bounding box of what changed: the pixels the fill
replaced (before and after, uint8) and the cleared mask (bit-packed), never
whole images, so a 24 MP photo with a small fill costs a few KB per accept.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand

from .document import new_photo_version
from .mask_model import BitPatch, Box, MaskModel, diff_box

EMPTY_BOX: Box = (0, 0, 0, 0)

# Writes ``pixels`` into ``box`` of the working photo, which then is photo version ``version``.
PhotoWriter = Callable[[Box, np.ndarray, int], None]

def _crop(array: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return array[y0:y1, x0:x1].copy()  # a copy, so the command holds no whole image alive


class AcceptCommand(QUndoCommand):
    """Make ``result`` the working photo with an empty mask (redo); put back
    ``photo`` and the mask it had (undo). Pushing the command applies it."""

    def __init__(self, mask_model: MaskModel, write_photo: PhotoWriter, photo: np.ndarray, photo_version: int,
                 result: np.ndarray, text: str):
        super().__init__(text)
        self.mask_model = mask_model
        self.write_photo = write_photo
        # the fill only touches the hole and a few pixels around it; empty if it changed nothing
        self.photo_box = diff_box(photo, result) or EMPTY_BOX
        self.photo_before = _crop(photo, self.photo_box)
        self.photo_after = _crop(result, self.photo_box)
        mask = mask_model.mask
        self.mask_box = diff_box(mask, np.zeros_like(mask)) or EMPTY_BOX
        self.mask_before = BitPatch(_crop(mask, self.mask_box))
        self.version_before = photo_version
        self.version_after = new_photo_version()

    def redo(self) -> None:
        self.write_photo(self.photo_box, self.photo_after, self.version_after)
        self.mask_model.write(self.mask_box, np.zeros(self.mask_before.shape, np.uint8))  # accepted: start afresh

    def undo(self) -> None:
        self.mask_model.write(self.mask_box, self.mask_before.unpack())
        self.write_photo(self.photo_box, self.photo_before, self.version_before)

    @property
    def nbytes(self) -> int:
        return self.photo_before.nbytes + self.photo_after.nbytes + self.mask_before.nbytes
