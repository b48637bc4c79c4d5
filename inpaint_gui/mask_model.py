"""The mask being painted (numpy, H x W, 1 = remove) and its undo history.

Every change goes through a ``PatchCommand`` that stores only the bounding
box of what changed, as bit-packed before/after arrays, so the history of a
24 MP photo stays small (a full-image invert costs 2 x 3 MB, a stroke a few KB).
Scene coordinates are pixel coordinates: pixel (x, y) covers [x, x+1) x [y, y+1),
and a pixel is painted when its centre lies inside the shape.
"""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def _union(a: Box | None, b: Box) -> Box:
    if a is None:
        return b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def diff_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """Bounding box of the pixels that differ, or None (for H x W x C photos a
    pixel differs when any of its channels does)."""
    changed = before != after
    if changed.ndim == 3:
        changed = changed.any(axis=2)
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


class BitPatch:
    """A bit-packed 0/1 array (8x smaller than uint8)."""

    def __init__(self, arr: np.ndarray):
        self.shape = arr.shape
        self.bits = np.packbits(arr.astype(bool), axis=None)

    def unpack(self) -> np.ndarray:
        n = self.shape[0] * self.shape[1]
        return np.unpackbits(self.bits, count=n).reshape(self.shape)

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes


class PatchCommand(QUndoCommand):
    """Replace the mask inside ``box`` by ``after`` (redo) or ``before`` (undo)."""

    def __init__(self, model: "MaskModel", box: Box, before: np.ndarray, after: np.ndarray, text: str):
        super().__init__(text)
        self.model = model
        self.box = box
        self.before = BitPatch(before)
        self.after = BitPatch(after)
        self._skip_first_redo = True  # the change is already on the mask when pushed

    def redo(self) -> None:
        if self._skip_first_redo:
            self._skip_first_redo = False
            return
        self.model.write(self.box, self.after.unpack())

    def undo(self) -> None:
        self.model.write(self.box, self.before.unpack())

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


class MaskModel(QObject):
    """Owns ``mask`` (uint8 H x W, 1 = remove) and the ``QUndoStack``."""

    changed = Signal(int, int, int, int)  # x0, y0, x1, y1 of the changed region
    reset = Signal()  # new size or whole new mask

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.mask = np.zeros((1, 1), np.uint8)
        self.stack = QUndoStack(self)
        self._stroke_before: np.ndarray | None = None
        self._stroke_box: Box | None = None

    # ---------------------------------------------------------------- state
    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape  # type: ignore[return-value]

    def set_blank(self, height: int, width: int) -> None:
        """A fresh empty mask for a new photo; history cleared."""
        self.stack.clear()
        self.mask = np.zeros((height, width), np.uint8)
        self.reset.emit()

    def hole(self) -> np.ndarray:
        """bool copy, True = remove (what the Inpainter gets)."""
        return self.mask.astype(bool)

    def is_empty(self) -> bool:
        return not self.mask.any()

    def history_bytes(self) -> int:
        return sum(self.stack.command(i).nbytes for i in range(self.stack.count()))

    def write(self, box: Box, values: np.ndarray) -> None:
        """Put ``values`` into ``box`` without a history entry (for the undo commands)."""
        x0, y0, x1, y1 = box
        self.mask[y0:y1, x0:x1] = values
        self.changed.emit(x0, y0, x1, y1)

    # -------------------------------------------------------- whole-mask ops
    def apply(self, new_mask: np.ndarray, text: str) -> bool:
        """Make ``new_mask`` the mask as one undoable step; False if nothing changed."""
        new_mask = (np.asarray(new_mask) != 0).astype(np.uint8)
        if new_mask.shape != self.mask.shape:
            raise ValueError(f"mask is {new_mask.shape[1]}x{new_mask.shape[0]}, "
                             f"photo is {self.mask.shape[1]}x{self.mask.shape[0]}")
        box = diff_box(self.mask, new_mask)
        if box is None:
            return False
        x0, y0, x1, y1 = box
        before = self.mask[y0:y1, x0:x1].copy()
        self.write(box, new_mask[y0:y1, x0:x1])
        self.stack.push(PatchCommand(self, box, before, new_mask[y0:y1, x0:x1], text))
        return True

    def clear(self) -> bool:
        return self.apply(np.zeros_like(self.mask), "Clear mask")

    def invert(self) -> bool:
        return self.apply(1 - self.mask, "Invert mask")

    def grow(self, pixels: int) -> bool:
        """Grow (pixels > 0) or shrink (pixels < 0) by a round structuring element."""
        if pixels == 0:
            return False
        n = abs(pixels)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * n + 1, 2 * n + 1))
        op = cv2.dilate if pixels > 0 else cv2.erode
        # erode treats the border as "set"; pad with 0 so shrinking also works at the edges
        padded = cv2.copyMakeBorder(self.mask, n, n, n, n, cv2.BORDER_CONSTANT, value=0)
        out = op(padded, kernel)[n:-n, n:-n]
        return self.apply(out, f"{'Grow' if pixels > 0 else 'Shrink'} mask by {n} px")

    def fill_rect(self, x0: float, y0: float, x1: float, y1: float, value: int) -> bool:
        h, w = self.mask.shape
        # pixels whose centres lie inside the rectangle
        ax0, ax1 = sorted((x0, x1))
        ay0, ay1 = sorted((y0, y1))
        c0, c1 = max(0, int(np.ceil(ax0 - 0.5))), min(w, int(np.floor(ax1 - 0.5)) + 1)
        r0, r1 = max(0, int(np.ceil(ay0 - 0.5))), min(h, int(np.floor(ay1 - 0.5)) + 1)
        if c0 >= c1 or r0 >= r1:
            return False
        new = self.mask.copy()
        new[r0:r1, c0:c1] = 1 if value else 0
        return self.apply(new, "Rectangle fill" if value else "Rectangle erase")

    def fill_polygon(self, points: list[tuple[float, float]], value: int) -> bool:
        if len(points) < 3:
            return False
        shift = 4  # sub-pixel vertex positions; pixel centres are at +0.5
        pts = np.round((np.asarray(points, np.float64) - 0.5) * (1 << shift)).astype(np.int32)
        region = np.zeros_like(self.mask)
        cv2.fillPoly(region, [pts], 1, lineType=cv2.LINE_8, shift=shift)
        new = self.mask.copy()
        new[region.astype(bool)] = 1 if value else 0
        return self.apply(new, "Lasso fill" if value else "Lasso erase")

    # --------------------------------------------------------------- strokes
    def begin_stroke(self) -> None:
        # One full copy per stroke (cheap memcpy); the command keeps only the box.
        self._stroke_before = self.mask.copy()
        self._stroke_box = None

    def stroke_segment(self, p0: tuple[float, float], p1: tuple[float, float], radius: float, value: int) -> None:
        """Paint a round-capped segment: every pixel whose centre is within
        ``radius`` of the segment p0-p1 (scene coordinates)."""
        if self._stroke_before is None:
            self.begin_stroke()
        h, w = self.mask.shape
        r = max(radius, 0.5)
        x0 = max(0, int(np.floor(min(p0[0], p1[0]) - r)))
        x1 = min(w, int(np.ceil(max(p0[0], p1[0]) + r)) + 1)
        y0 = max(0, int(np.floor(min(p0[1], p1[1]) - r)))
        y1 = min(h, int(np.ceil(max(p0[1], p1[1]) + r)) + 1)
        if x0 >= x1 or y0 >= y1:
            return
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
        ax, ay = p0
        dx, dy = p1[0] - ax, p1[1] - ay
        seg2 = dx * dx + dy * dy
        if seg2 > 0:
            t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / seg2, 0.0, 1.0)
        else:
            t = 0.0
        dist2 = (xs - (ax + t * dx)) ** 2 + (ys - (ay + t * dy)) ** 2
        inside = dist2 <= r * r
        if not inside.any():
            return
        self.mask[y0:y1, x0:x1][inside] = 1 if value else 0
        self._stroke_box = _union(self._stroke_box, (x0, y0, x1, y1))
        self.changed.emit(x0, y0, x1, y1)

    def end_stroke(self, text: str = "Brush stroke") -> bool:
        before, box = self._stroke_before, self._stroke_box
        self._stroke_before = self._stroke_box = None
        if before is None or box is None:
            return False
        x0, y0, x1, y1 = box
        tight = diff_box(before[y0:y1, x0:x1], self.mask[y0:y1, x0:x1])
        if tight is None:
            return False
        bx0, by0, bx1, by1 = tight[0] + x0, tight[1] + y0, tight[2] + x0, tight[3] + y0
        self.stack.push(PatchCommand(self, (bx0, by0, bx1, by1), before[by0:by1, bx0:bx1],
                                     self.mask[by0:by1, bx0:bx1].copy(), text))
        return True
