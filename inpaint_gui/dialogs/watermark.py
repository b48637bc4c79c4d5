"""The batch dialog's two uses of the estimated watermark
(``model.jobs.watermark_estimate.watermark_from_folder``), shown for approval
before a run: its mask, repainted like any mask, or the semi-transparent mark
itself, opacity and colour, restored by inverting the blend."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from model.jobs.watermark_model import Watermark
from model.jobs.watermark_model import describe

CHECKER = 8  # px squares behind the mark's colour
ZOOM_LIMIT = 4.0  # a small mark is shown at most this many times its size


def qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 array as a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb)
    return QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888).copy()


def _picture(rgb: np.ndarray, width: int, height: int) -> QLabel:
    label = QLabel()
    label.setPixmap(QPixmap.fromImage(qimage(rgb)).scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                                          Qt.TransformationMode.SmoothTransformation))
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _approval_buttons(dialog, accept_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    """The preview's buttons: ``accept_text`` (calls ``dialog._use``) and Cancel."""
    buttons = QDialogButtonBox()
    accept = buttons.addButton(accept_text, QDialogButtonBox.ButtonRole.AcceptRole)
    buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog._use)
    buttons.rejected.connect(dialog.reject)
    return buttons, accept


class WatermarkPreview(QDialog):
    """Shows the estimated watermark's mask (``Watermark.mask``, as
    ``watermark-mask`` writes it) over one of the photos; the user approves
    it (``approved(mask)``) or not."""

    approved = Signal(object)

    def __init__(self, parent: QWidget | None, mark: Watermark, photo: np.ndarray | None):
        super().__init__(parent)
        self.setWindowTitle("Estimated watermark")
        self.mark = mark
        self.mask = mark.mask
        w, h = mark.size
        x0, y0, x1, y1 = mark.bbox
        area = int(self.mask.sum())
        text = (f"What stays the same at the same place in {len(mark.used)} photos, shown at {w} × {h}: "
                f"box x {x0}–{x1}, y {y0}–{y1}, {100 * area / (w * h):.2f} % of the photo (red). "
                "Use it as the mask for this batch?")
        if mark.placement is not None:
            text += (f"\nThe photos have several sizes and the mark is scaled to each: {mark.placement.describe()}. "
                     f"This mask fits the {w} × {h} photos; for the others choose under 'Mask of another size', "
                     "or restore instead (the restoration places the mark by its rule).")
        if mark.other_sizes:
            text += (f"\n{mark.other_sizes} photos have another size: choose how the mask fits them "
                     "under 'Mask of another size'.")
        if mark.without:
            text += f"\n{len(mark.without)} photos do not carry the mark."
        self.info = QLabel(text)
        self.info.setWordWrap(True)
        base = photo if photo is not None and photo.shape[:2] == self.mask.shape else \
            np.full(self.mask.shape + (3,), 90, np.uint8)
        shown = base.copy()
        shown[self.mask] = (base[self.mask] * 0.35 + np.array([255, 30, 60]) * 0.65).astype(np.uint8)
        self.preview = _picture(shown, 760, 480)
        buttons, self.use_button = _approval_buttons(self, "Use this mask")
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(self.preview, 1)
        layout.addWidget(buttons)

    def _use(self) -> None:
        self.approved.emit(self.mask)
        self.accept()


def opacity_picture(mark: Watermark, box: tuple[int, int, int, int]) -> np.ndarray:
    """The mark's opacity in ``box`` as grey (RGB uint8): white = opaque, black = none."""
    x0, y0, x1, y1 = box
    grey = np.round(mark.alpha[y0:y1, x0:x1] * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def colour_picture(mark: Watermark, box: tuple[int, int, int, int]) -> np.ndarray:
    """The mark in ``box`` as it would sit over a checkerboard: its colour
    blended by its opacity (RGB uint8), so white and black marks both show."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1]
    checker = np.where(((yy // CHECKER) + (xx // CHECKER)) % 2 == 0, 150, 100).astype(np.float32)[..., None]
    a = mark.alpha[y0:y1, x0:x1, None]
    return np.clip(np.round(a * mark.colour[y0:y1, x0:x1] + (1 - a) * checker), 0, 255).astype(np.uint8)


def mark_box(mark: Watermark, margin: int = 12) -> tuple[int, int, int, int]:
    """The mark's bounding box with some room around it (the whole photo if empty)."""
    w, h = mark.size
    box = mark.bbox
    if box is None:
        return 0, 0, w, h
    x0, y0, x1, y1 = box
    return max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)


class RestorePreview(QDialog):
    """The watermark estimated for restoration: its opacity (grey) and its
    colour over a checkerboard, cropped to the mark, where it sits on one of
    the photos, and ``describe``'s summary. Approving (``approved(mark)``)
    restores the folder with it."""

    approved = Signal(object)

    def __init__(self, parent: QWidget | None, mark: Watermark, photo: np.ndarray | None):
        super().__init__(parent)
        self.setWindowTitle("Estimated watermark (restore)")
        self.mark = mark
        w, h = mark.size
        self.summary = describe(mark)
        text = (f"The semi-transparent mark shared by {len(mark.used)} photos of {w} × {h}: {self.summary}.\n"
                "Where it is see-through the photo under it is restored; where it is opaque the model fills. "
                "Restore the folder with it?")
        if mark.without:
            text += f"\n{len(mark.without)} photos do not carry the mark: they are copied as they are."
        if mark.other_sizes:
            text += (f"\n{mark.other_sizes} photos have another size: the mark is searched for in them, or placed "
                     "as chosen under 'Mask of another size'.")
        if mark.skipped:
            text += f"\n{len(mark.skipped)} photos could not be read."
        self.info = QLabel(text)
        self.info.setWordWrap(True)

        box = mark_box(mark)
        x0, y0, x1, y1 = box
        zoom = min(ZOOM_LIMIT, 360 / max(1, x1 - x0), 220 / max(1, y1 - y0))
        pw, ph = max(1, round((x1 - x0) * zoom)), max(1, round((y1 - y0) * zoom))
        self.opacity = _picture(opacity_picture(mark, box), pw, ph)
        self.opacity.setToolTip("Opacity: white = opaque, black = none")
        self.colour = _picture(colour_picture(mark, box), pw, ph)
        self.colour.setToolTip("The mark's colour at its opacity, over a checkerboard")
        base = photo if photo is not None and photo.shape[:2] == mark.alpha.shape else \
            np.full(mark.alpha.shape + (3,), 90, np.uint8)
        placed = base.copy()
        placed[mark.mask] = (base[mark.mask] * 0.35 + np.array([255, 30, 60]) * 0.65).astype(np.uint8)
        self.placed = _picture(placed, 740, 300)
        self.placed.setToolTip("Where the mark sits (red) on one of the photos")

        grid = QGridLayout()
        for col, (label, picture) in enumerate((("Opacity (α)", self.opacity), ("Colour (W)", self.colour))):
            caption = QLabel(label)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(caption, 0, col)
            grid.addWidget(picture, 1, col)
        buttons, self.restore_button = _approval_buttons(self, "Restore the photos")
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addLayout(grid)
        layout.addWidget(self.placed, 1)
        layout.addWidget(buttons)

    def _use(self) -> None:
        self.approved.emit(self.mark)
        self.accept()
