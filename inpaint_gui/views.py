"""Display building blocks shared by the editor canvas and the result view.

``ImageItem`` and ``MaskItem`` draw numpy arrays through a pyramid of
2x-downscaled levels: each paint converts only the exposed part of the level
that matches the zoom, so a 24 MP photo zoomed out to fit costs about as much
as a screenful of pixels. Full resolution stays in the numpy array for
processing. ``ZoomView`` adds wheel/keyboard zoom, fit, 100 % and panning
(middle button or space + drag).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, qRgba
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QStyleOptionGraphicsItem, QWidget


def _level_for(lod: float, levels_allowed: int) -> int:
    """Pyramid level whose resolution is the smallest still >= the screen's."""
    if lod >= 1.0:
        return 0
    return max(0, min(levels_allowed, int(math.floor(math.log2(1.0 / lod)))))


def _block_mean(arr: np.ndarray, f: int) -> np.ndarray:
    """Mean over f x f blocks, zero-padded at the right/bottom edge (uint8 -> uint8)."""
    h, w = arr.shape[:2]
    ph, pw = -h % f, -w % f
    if ph or pw:
        arr = np.pad(arr, ((0, ph), (0, pw)) + ((0, 0),) * (arr.ndim - 2))
    hh, ww = arr.shape[0] // f, arr.shape[1] // f
    return arr.reshape(hh, f, ww, f, *arr.shape[2:]).mean(axis=(1, 3)).astype(np.uint8)


class _PyramidItem(QGraphicsItem):
    """Base: draws level ``k`` (an array 2**k times smaller) scaled back up."""

    MAX_LEVEL = 6

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._w = self._h = 0
        self._levels: dict[int, np.ndarray] = {}
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._w, self._h)

    def _level(self, k: int) -> np.ndarray:
        raise NotImplementedError

    def _qimage(self, arr: np.ndarray, k: int) -> QImage:
        raise NotImplementedError

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._w == 0:
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        max_level = max(0, min(self.MAX_LEVEL, int(math.log2(max(1, min(self._w, self._h) // 16 or 1)))))
        k = _level_for(lod, max_level)
        arr = self._level(k)
        f = 1 << k
        exposed = option.exposedRect.intersected(self.boundingRect())
        if exposed.isEmpty():
            return
        lh, lw = arr.shape[:2]
        c0 = max(0, int(math.floor(exposed.left() / f)) - 1)
        r0 = max(0, int(math.floor(exposed.top() / f)) - 1)
        c1 = min(lw, int(math.ceil(exposed.right() / f)) + 1)
        r1 = min(lh, int(math.ceil(exposed.bottom() / f)) + 1)
        if c0 >= c1 or r0 >= r1:
            return
        image = self._qimage(np.ascontiguousarray(arr[r0:r1, c0:c1]), k)
        # Magnified: show crisp pixels (brushing needs to see them); reduced: smooth.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, lod < 1.0)
        painter.save()
        painter.setClipRect(self.boundingRect())
        sx, sy = self._scale_of_level(k, lw, lh)
        painter.drawImage(QRectF(c0 * sx, r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy), image)
        painter.restore()

    def _scale_of_level(self, k: int, lw: int, lh: int) -> tuple[float, float]:
        return float(1 << k), float(1 << k)


class ImageItem(_PyramidItem):
    """An RGB uint8 photo."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._image = np.zeros((1, 1, 3), np.uint8)

    def set_image(self, image: np.ndarray) -> None:
        self.prepareGeometryChange()
        self._image = np.ascontiguousarray(image)
        self._h, self._w = image.shape[:2]
        self._levels = {0: self._image}
        self.update()

    def image(self) -> np.ndarray:
        return self._image

    def _level(self, k: int) -> np.ndarray:
        if k not in self._levels:
            prev = self._level(k - 1)
            h, w = prev.shape[:2]
            self._levels[k] = cv2.resize(prev, (max(1, (w + 1) // 2), max(1, (h + 1) // 2)),
                                         interpolation=cv2.INTER_AREA)
        return self._levels[k]

    def _scale_of_level(self, k: int, lw: int, lh: int) -> tuple[float, float]:
        # cv2 levels round sizes; stretch so the level covers the photo exactly
        return self._w / lw, self._h / lh

    def _qimage(self, arr: np.ndarray, k: int) -> QImage:
        h, w = arr.shape[:2]
        img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888)
        img._keep = arr  # the QImage borrows the numpy buffer
        return img


class MaskItem(_PyramidItem):
    """A 0/1 mask drawn as a semi-transparent colour; levels hold coverage 0..255."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._mask = np.zeros((1, 1), np.uint8)
        self._colour = QColor(255, 40, 80)
        self._opacity = 0.5
        self._table: list[int] = []
        self._rebuild_table()

    def set_mask(self, mask: np.ndarray) -> None:
        """Display ``mask`` (shared, not copied: call ``region_changed`` after edits)."""
        self.prepareGeometryChange()
        self._mask = mask
        self._h, self._w = mask.shape
        self._levels = {}
        self.update()

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(opacity)
        self._rebuild_table()
        self.update()

    def _rebuild_table(self) -> None:
        c = self._colour
        self._table = [qRgba(c.red(), c.green(), c.blue(), int(round(i * self._opacity))) for i in range(256)]

    def region_changed(self, x0: int, y0: int, x1: int, y1: int) -> None:
        # Refresh only the affected blocks of each cached level.
        for k, arr in list(self._levels.items()):
            if k == 0:
                continue
            f = 1 << k
            bx0, by0 = x0 // f, y0 // f
            bx1, by1 = -(-x1 // f), -(-y1 // f)
            src = self._mask[by0 * f:by1 * f, bx0 * f:bx1 * f]
            arr[by0:by0 + -(-src.shape[0] // f), bx0:bx0 + -(-src.shape[1] // f)] = _block_mean(src * 255, f) \
                if src.size else 0
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def _level(self, k: int) -> np.ndarray:
        if k == 0:
            return self._mask
        if k not in self._levels:
            self._levels[k] = _block_mean(self._mask * np.uint8(255), 1 << k)
        return self._levels[k]

    def _qimage(self, arr: np.ndarray, k: int) -> QImage:
        if k == 0:
            arr = arr * np.uint8(255)  # level 0 is the live 0/1 mask; others hold coverage
        h, w = arr.shape
        img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_Indexed8)
        img.setColorTable(self._table)
        img._keep = arr
        return img


class ZoomView(QGraphicsView):
    """QGraphicsView with zoom (wheel, keys), fit / 100 % and panning.

    ``zoom_changed(scale)`` fires on every zoom; ``view_changed`` on any zoom
    or scroll, so other views can follow (the result view syncs three).
    """

    zoom_changed = Signal(float)
    view_changed = Signal()

    MIN_ZOOM, MAX_ZOOM = 0.01, 64.0

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(QColor(48, 48, 52))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._fit_mode = True  # keep _fit_target framed as the view is resized, until the user zooms
        self._fit_target: QRectF | None = None  # None: the whole scene
        self._panning = False
        self._space_down = False
        self._pan_last = QPointF()
        self.horizontalScrollBar().valueChanged.connect(self.view_changed)
        self.verticalScrollBar().valueChanged.connect(self.view_changed)

    # ------------------------------------------------------------- zoom api
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, scale: float, anchor_mouse: bool = False) -> None:
        scale = min(self.MAX_ZOOM, max(self.MIN_ZOOM, scale))
        self._fit_mode = False
        old = self.transformationAnchor()
        if not anchor_mouse:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        factor = scale / self.zoom()
        self.scale(factor, factor)
        self.setTransformationAnchor(old)
        self.zoom_changed.emit(self.zoom())
        self.view_changed.emit()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Show the whole scene, as large as it fits."""
        self.frame(None)

    def frame(self, rect: QRectF | None) -> None:
        """Show ``rect`` of the scene (None: all of it) as large as it fits,
        and keep it so as the view is resized, until the user zooms."""
        self._fit_target = QRectF(rect) if rect is not None else None
        target = self._fit_target or self.sceneRect()
        if target.isEmpty():
            return
        self.fitInView(target, Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_mode = True
        self.zoom_changed.emit(self.zoom())
        self.view_changed.emit()

    def refit(self) -> None:
        """Frame again what the view was framing (after a resize or a new layout)."""
        if self._fit_mode:
            self.frame(self._fit_target)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.refit()

    def wheelEvent(self, event) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta == 0:
            return super().wheelEvent(event)
        self.set_zoom(self.zoom() * (1.0015 ** delta), anchor_mouse=True)
        event.accept()

    # -------------------------------------------------------------- panning
    def _start_pan(self, pos: QPointF) -> None:
        self._panning = True
        self._pan_last = QPointF(pos)
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def _pan_to(self, pos: QPointF) -> None:
        delta = pos - self._pan_last
        self._pan_last = QPointF(pos)
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(round(delta.x())))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(round(delta.y())))

    def _end_pan(self) -> None:
        self._panning = False
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else self.idle_cursor())

    def idle_cursor(self):
        return Qt.CursorShape.ArrowCursor

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_down):
            self._start_pan(event.position())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._panning:
            self._pan_to(event.position())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._panning and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._end_pan()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if not self._panning:
                self.viewport().setCursor(self.idle_cursor())
            event.accept()
            return
        super().keyReleaseEvent(event)
