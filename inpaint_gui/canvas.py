"""The editor: the photo with the mask overlay, and the painting tools.

Tools: brush, eraser, rectangle, lasso and select object. The right mouse
button always removes from the mask (erases); left adds (the eraser tool
inverts that). Select object hands its box or scribble to the main window
(``selection_drawn``), which snaps it to the object (model.selection).
All positions go through ``mapToScene``, and scene units are image pixels,
so strokes stay aligned at every zoom.
"""
from __future__ import annotations

from enum import Enum

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (QGraphicsEllipseItem, QGraphicsPathItem, QGraphicsScene,
                               QWidget)

from .mask_model import MaskModel
from .views import ImageItem, MaskItem, ZoomView


class Tool(Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    RECT = "rect"
    LASSO = "lasso"
    SELECT = "select"


def _outline_pen(colour: QColor, dashed: bool = False) -> QPen:
    pen = QPen(colour, 1.5)
    pen.setCosmetic(True)  # same on-screen width at every zoom
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


class Canvas(ZoomView):
    cursor_moved = Signal(int, int)  # image pixel under the mouse (-1 outside)
    brush_size_changed = Signal(int)
    files_dropped = Signal(list)  # local paths
    selection_drawn = Signal(list, int)  # Select object: the dragged path [(x, y), ...], 1 add / 0 remove

    def __init__(self, mask_model: MaskModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.mask_model = mask_model
        self.tool = Tool.BRUSH
        self.brush_size = 40  # diameter in image pixels
        self.editing_enabled = True
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)

        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.image_item = ImageItem()
        self.mask_item = MaskItem()
        self._scene.addItem(self.image_item)
        self._scene.addItem(self.mask_item)

        # brush outline: white over black, cosmetic, so it is visible on any photo
        self._brush_outer = QGraphicsEllipseItem()
        self._brush_outer.setPen(_outline_pen(QColor(0, 0, 0, 200)))
        self._brush_inner = QGraphicsEllipseItem(self._brush_outer)
        self._brush_inner.setPen(_outline_pen(QColor(255, 255, 255), dashed=True))
        self._brush_outer.setZValue(10)
        self._brush_outer.setVisible(False)
        self._scene.addItem(self._brush_outer)

        self._shape_item = QGraphicsPathItem()
        self._shape_item.setPen(_outline_pen(QColor(255, 255, 255), dashed=True))
        self._shape_item.setBrush(QColor(255, 40, 80, 60))
        self._shape_item.setZValue(9)
        self._scene.addItem(self._shape_item)

        self._drag_value: int | None = None  # 1 add, 0 erase, None = not dragging
        self._last: QPointF | None = None
        self._start: QPointF | None = None
        self._lasso: list[QPointF] = []

        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.viewport().setCursor(self.idle_cursor())
        mask_model.changed.connect(self.mask_item.region_changed)
        mask_model.reset.connect(lambda: self.mask_item.set_mask(mask_model.mask))

    # ---------------------------------------------------------------- state
    def set_image(self, image: np.ndarray, fit: bool = True) -> None:
        self.image_item.set_image(image)
        h, w = image.shape[:2]
        self._scene.setSceneRect(QRectF(0, 0, w, h))
        self.mask_item.set_mask(self.mask_model.mask)
        if fit:
            self.fit()

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self._cancel_drag()
        self._update_brush_outline()

    def set_brush_size(self, size: int) -> None:
        size = int(max(1, min(1000, size)))
        if size != self.brush_size:
            self.brush_size = size
            self.brush_size_changed.emit(size)
        self._update_brush_outline()

    def idle_cursor(self):
        return Qt.CursorShape.CrossCursor

    def _uses_brush(self) -> bool:
        return self.tool in (Tool.BRUSH, Tool.ERASER)

    def _update_brush_outline(self, scene_pos: QPointF | None = None) -> None:
        if scene_pos is not None:
            self._brush_outer.setData(0, scene_pos)
        pos = self._brush_outer.data(0)
        show = self._uses_brush() and pos is not None and self.editing_enabled
        self._brush_outer.setVisible(bool(show))
        if show:
            r = self.brush_size / 2
            rect = QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r)
            self._brush_outer.setRect(rect)
            self._brush_inner.setRect(rect)

    # ---------------------------------------------------------------- mouse
    def _scene_point(self, event) -> QPointF:
        return self.mapToScene(event.position().toPoint())

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton or self._space_down or not self.editing_enabled:
            return super().mousePressEvent(event)
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return super().mousePressEvent(event)
        add = event.button() == Qt.MouseButton.LeftButton
        if self.tool == Tool.ERASER:
            add = not add
        self._drag_value = 1 if add else 0
        p = self._scene_point(event)
        self._start = self._last = p
        if self._uses_brush():
            self.mask_model.begin_stroke()
            self.mask_model.stroke_segment((p.x(), p.y()), (p.x(), p.y()), self.brush_size / 2, self._drag_value)
        elif self.tool in (Tool.LASSO, Tool.SELECT):
            self._lasso = [p]
            self._update_shape_preview(p)
        else:
            self._update_shape_preview(p)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        p = self._scene_point(event)
        inside = self.sceneRect().contains(p)
        self.cursor_moved.emit(int(p.x()) if inside else -1, int(p.y()) if inside else -1)
        self._update_brush_outline(p)
        if self._panning or self._drag_value is None:
            return super().mouseMoveEvent(event)
        if self._uses_brush():
            q = self._last
            self.mask_model.stroke_segment((q.x(), q.y()), (p.x(), p.y()), self.brush_size / 2, self._drag_value)
        elif self.tool in (Tool.LASSO, Tool.SELECT):
            self._lasso.append(p)
        self._last = p
        self._update_shape_preview(p)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drag_value is None or self._panning:
            return super().mouseReleaseEvent(event)
        p = self._scene_point(event)
        value = self._drag_value
        if self._uses_brush():
            if p != self._last:
                q = self._last
                self.mask_model.stroke_segment((q.x(), q.y()), (p.x(), p.y()), self.brush_size / 2, value)
            self.mask_model.end_stroke("Brush stroke" if value else "Erase stroke")
        elif self.tool == Tool.RECT:
            s = self._start
            self.mask_model.fill_rect(s.x(), s.y(), p.x(), p.y(), value)
        elif self.tool == Tool.LASSO:
            self._lasso.append(p)
            self.mask_model.fill_polygon([(q.x(), q.y()) for q in self._lasso], value)
        elif self.tool == Tool.SELECT:
            self._lasso.append(p)
            points = [(q.x(), q.y()) for q in self._lasso]
            self._cancel_drag()
            self.selection_drawn.emit(points, value)
            event.accept()
            return
        self._cancel_drag()
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._brush_outer.setVisible(False)
        self.cursor_moved.emit(-1, -1)
        super().leaveEvent(event)

    def _cancel_drag(self) -> None:
        if self._drag_value is not None and self._uses_brush():
            self.mask_model.end_stroke()
        self._drag_value = None
        self._lasso = []
        self._shape_item.setPath(QPainterPath())

    def _update_shape_preview(self, p: QPointF) -> None:
        path = QPainterPath()
        if self.tool == Tool.RECT and self._start is not None:
            path.addRect(QRectF(self._start, p).normalized())
        elif self.tool == Tool.LASSO and self._lasso:
            path.moveTo(self._lasso[0])
            for q in self._lasso[1:]:
                path.lineTo(q)
            path.closeSubpath()
        elif self.tool == Tool.SELECT and self._lasso:
            from model.selection import is_scribble
            points = [(q.x(), q.y()) for q in self._lasso]
            if is_scribble(points):  # a scribble over the object: show the stroke
                stroker = QPainterPathStroker()
                stroker.setWidth(max(2.0, self.brush_size * 0.5))
                stroker.setCapStyle(Qt.PenCapStyle.RoundCap)
                line = QPainterPath(self._lasso[0])
                for q in self._lasso[1:]:
                    line.lineTo(q)
                path = stroker.createStroke(line)
            else:  # a box around it
                path.addRect(QRectF(self._lasso[0], p).normalized())
        self._shape_item.setPath(path)

    # ----------------------------------------------------------------- keys
    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_BracketLeft:
            self.set_brush_size(round(self.brush_size / 1.2) if self.brush_size > 5 else self.brush_size - 1)
        elif event.key() == Qt.Key.Key_BracketRight:
            self.set_brush_size(max(self.brush_size + 1, round(self.brush_size * 1.2)))
        elif event.key() == Qt.Key.Key_Escape:
            self._cancel_drag()
        else:
            return super().keyPressEvent(event)
        event.accept()

    # ---------------------------------------------------------- drag & drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            super().dropEvent(event)
