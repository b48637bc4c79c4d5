"""The navigator in the side panel: the whole photo small, the mask over it
and a frame around the part the editor shows; click or drag in it to move
the editor there. It takes the panel's free height."""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .canvas import Canvas
from .mask_model import MaskModel

SIDE = 480  # the reduced copy's longest side


class Navigator(QWidget):
    def __init__(self, canvas: Canvas, mask_model: MaskModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas, self.mask_model = canvas, mask_model
        self._source: np.ndarray | None = None  # the photo the reduced copy was made from
        self._small: QImage | None = None
        self._dragging = False
        self.setMinimumSize(QSize(160, 120))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("The whole photo: the frame is what the editor shows; click or drag to move there")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        canvas.view_changed.connect(self.update)
        canvas.zoom_changed.connect(self.update)
        mask_model.changed.connect(self.update)
        mask_model.reset.connect(self.update)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 200)

    # ------------------------------------------------------------ geometry
    def _photo(self) -> np.ndarray | None:
        image = self.canvas.image_item.image()
        return image if image.shape[0] > 1 else None

    def photo_rect(self) -> QRectF:
        """Where the photo is drawn in this widget (fitted, centred)."""
        photo = self._photo()
        if photo is None:
            return QRectF()
        h, w = photo.shape[:2]
        scale = min((self.width() - 8) / w, (self.height() - 8) / h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def _to_photo(self, pos: QPointF) -> QPointF:
        rect, photo = self.photo_rect(), self._photo()
        scale = rect.width() / photo.shape[1]
        return QPointF((pos.x() - rect.left()) / scale, (pos.y() - rect.top()) / scale)

    # ------------------------------------------------------------ drawing
    def _reduced(self, photo: np.ndarray) -> QImage:
        if photo is not self._source:
            h, w = photo.shape[:2]
            f = min(1.0, SIDE / max(h, w))
            small = cv2.resize(photo, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
            small = np.ascontiguousarray(small)
            self._small = QImage(small.data, small.shape[1], small.shape[0], small.strides[0],
                                 QImage.Format.Format_RGB888).copy()
            self._source = photo
        return self._small

    def _mask_image(self, size: QSize) -> QImage | None:
        mask = self.mask_model.mask
        if mask is None or mask.shape[0] < 2:
            return None
        # nearest: reads only the output's pixels, so a stroke on 24 MP repaints at once
        small = cv2.resize(mask.view(np.uint8), (size.width(), size.height()), interpolation=cv2.INTER_NEAREST) > 0
        if not small.any():
            return None
        rgba = np.zeros(small.shape + (4,), np.uint8)
        rgba[small] = (255, 40, 80, 170)
        return QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.strides[0],
                      QImage.Format.Format_RGBA8888).copy()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(48, 48, 52))
        photo = self._photo()
        if photo is None:
            p.setPen(QColor(150, 150, 150))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "navigator")
            return
        rect = self.photo_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(rect, self._reduced(photo))
        mask = self._mask_image(self._small.size())
        if mask is not None:
            p.drawImage(rect, mask)
        # the part of the photo the editor shows
        c = self.canvas
        shown = c.mapToScene(c.viewport().rect()).boundingRect().intersected(QRectF(0, 0, photo.shape[1],
                                                                                  photo.shape[0]))
        scale = rect.width() / photo.shape[1]
        frame = QRectF(rect.left() + shown.left() * scale, rect.top() + shown.top() * scale,
                       shown.width() * scale, shown.height() * scale)
        p.setPen(QPen(QColor(255, 220, 60), 2))
        p.drawRect(frame.adjusted(1, 1, -1, -1))

    # ------------------------------------------------------------ moving
    def _go(self, pos: QPointF) -> None:
        if self._photo() is not None and not self.photo_rect().isEmpty():
            self.canvas.centerOn(self._to_photo(pos))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._go(event.position())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._dragging:
            self._go(event.position())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._dragging = False
