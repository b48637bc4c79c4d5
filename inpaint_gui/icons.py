"""Toolbar icons drawn with QPainter (no image files to ship or license)."""
from __future__ import annotations

import math
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

INK = QColor(60, 64, 72)
ACCENT = QColor(230, 50, 90)
BLUE = QColor(40, 120, 220)
SIZE = 64  # drawn at 64 px, Qt scales down for the toolbar


def _pen(colour: QColor = INK, width: float = 5.0) -> QPen:
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _arrow(p: QPainter, flip: bool) -> None:
    path = QPainterPath()
    if not flip:
        path.moveTo(18, 26)
        path.cubicTo(30, 12, 52, 16, 52, 36)
        path.cubicTo(52, 48, 42, 54, 32, 54)
        head = QPolygonF([QPointF(8, 14), QPointF(26, 14), QPointF(12, 32)])
    else:
        path.moveTo(46, 26)
        path.cubicTo(34, 12, 12, 16, 12, 36)
        path.cubicTo(12, 48, 22, 54, 32, 54)
        head = QPolygonF([QPointF(56, 14), QPointF(38, 14), QPointF(52, 32)])
    p.setPen(_pen(INK, 6))
    p.drawPath(path)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(INK)
    p.drawPolygon(head)


def _draw(name: str, p: QPainter) -> None:
    if name == "open":
        p.setPen(_pen())
        p.setBrush(QColor(250, 205, 90))
        path = QPainterPath()
        path.moveTo(6, 50)
        path.lineTo(6, 14)
        path.lineTo(24, 14)
        path.lineTo(30, 20)
        path.lineTo(54, 20)
        path.lineTo(54, 50)
        path.closeSubpath()
        p.drawPath(path)
        p.setBrush(QColor(255, 225, 130))
        p.drawPolygon(QPolygonF([QPointF(6, 50), QPointF(16, 28), QPointF(62, 28), QPointF(54, 50)]))
    elif name == "save":
        p.setPen(_pen())
        p.setBrush(BLUE)
        p.drawRoundedRect(QRectF(8, 8, 48, 48), 5, 5)
        p.setBrush(QColor(245, 245, 245))
        p.drawRect(QRectF(18, 8, 28, 16))
        p.drawRect(QRectF(16, 34, 32, 22))
    elif name == "undo":
        _arrow(p, False)
    elif name == "redo":
        _arrow(p, True)
    elif name == "brush":
        p.setPen(_pen(INK, 4))
        p.setBrush(QColor(200, 150, 90))
        p.save()
        p.translate(32, 32)
        p.rotate(45)
        p.drawRoundedRect(QRectF(-5, -30, 10, 30), 3, 3)
        p.setBrush(ACCENT)
        p.drawRoundedRect(QRectF(-8, 0, 16, 22), 6, 6)
        p.restore()
    elif name == "eraser":
        p.save()
        p.translate(32, 32)
        p.rotate(-40)
        p.setPen(_pen(INK, 4))
        p.setBrush(QColor(250, 170, 190))
        p.drawRoundedRect(QRectF(-14, -24, 28, 30), 4, 4)
        p.setBrush(QColor(240, 240, 240))
        p.drawRoundedRect(QRectF(-14, 6, 28, 16), 4, 4)
        p.restore()
    elif name == "rect":
        pen = _pen(INK, 4)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(QColor(230, 50, 90, 110))
        p.drawRect(QRectF(8, 14, 48, 36))
    elif name == "lasso":
        pen = _pen(INK, 4)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(QColor(230, 50, 90, 110))
        path = QPainterPath()
        path.moveTo(32, 8)
        path.cubicTo(58, 8, 60, 34, 40, 40)
        path.cubicTo(26, 44, 6, 40, 8, 24)
        path.cubicTo(10, 12, 22, 8, 32, 8)
        p.drawPath(path)
        p.setPen(_pen(INK, 4))
        p.drawLine(QPointF(18, 40), QPointF(14, 58))
    elif name == "select":  # a dashed box around a figure that is filled (snapped) red
        pen = _pen(INK, 3)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRect(QRectF(6, 6, 52, 52))
        p.setPen(_pen(ACCENT.darker(130), 2.5))
        p.setBrush(QColor(230, 50, 90, 170))
        p.drawEllipse(QPointF(32, 20), 7, 7)
        body = QPainterPath()
        body.moveTo(20, 52)
        body.cubicTo(20, 34, 24, 28, 32, 28)
        body.cubicTo(40, 28, 44, 34, 44, 52)
        body.closeSubpath()
        p.drawPath(body)
    elif name in ("zoom_in", "zoom_out", "zoom_fit", "zoom_100"):
        p.setPen(_pen(INK, 6))
        p.setBrush(QColor(255, 255, 255))
        p.drawEllipse(QPointF(26, 26), 18, 18)
        p.drawLine(QPointF(39, 39), QPointF(56, 56))
        p.setPen(_pen(INK, 5))
        if name in ("zoom_in", "zoom_out"):
            p.drawLine(QPointF(17, 26), QPointF(35, 26))
        if name == "zoom_in":
            p.drawLine(QPointF(26, 17), QPointF(26, 35))
        if name == "zoom_fit":
            p.drawRect(QRectF(18, 19, 16, 14))
        if name == "zoom_100":
            font = p.font()
            font.setPixelSize(17)
            font.setBold(True)
            p.setFont(font)
            p.drawText(QRectF(8, 8, 36, 36), Qt.AlignmentFlag.AlignCenter, "1:1")
    elif name == "remove":
        # a magic wand with sparkles
        p.setPen(_pen(INK, 7))
        p.drawLine(QPointF(10, 54), QPointF(38, 26))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ACCENT)
        for cx, cy, r in ((46, 18, 10), (24, 12, 6), (54, 40, 6)):
            star = QPolygonF([QPointF(cx + (r if i % 2 == 0 else r * 0.35) * math.cos(i * math.pi / 4),
                                      cy + (r if i % 2 == 0 else r * 0.35) * math.sin(i * math.pi / 4))
                              for i in range(8)])
            p.drawPolygon(star)
    elif name == "cancel":
        p.setPen(_pen(ACCENT, 8))
        p.drawLine(QPointF(16, 16), QPointF(48, 48))
        p.drawLine(QPointF(48, 16), QPointF(16, 48))
    elif name == "batch":
        p.setPen(_pen(INK, 4))
        for i, shade in enumerate((210, 230, 250)):
            p.setBrush(QColor(shade, shade, 255))
            p.drawRect(QRectF(6 + i * 8, 26 - i * 8, 34, 28))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ACCENT)
        p.drawEllipse(QPointF(41, 25), 6, 6)
    elif name == "train":
        p.setPen(_pen(INK, 4))
        p.drawLine(QPointF(8, 8), QPointF(8, 56))
        p.drawLine(QPointF(8, 56), QPointF(58, 56))
        p.setPen(_pen(ACCENT, 5))
        path = QPainterPath()
        path.moveTo(12, 14)
        path.cubicTo(20, 42, 30, 46, 56, 48)
        p.drawPath(path)
    elif name == "settings":
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(INK)
        p.translate(32, 32)
        for i in range(8):
            p.save()
            p.rotate(i * 45)
            p.drawRoundedRect(QRectF(-6, -28, 12, 14), 3, 3)
            p.restore()
        p.drawEllipse(QPointF(0, 0), 20, 20)
        p.setBrush(QColor(255, 255, 255))
        p.drawEllipse(QPointF(0, 0), 8, 8)
    elif name == "mask_clear":
        p.setPen(_pen(INK, 4))
        p.setBrush(QColor(230, 50, 90, 110))
        p.drawEllipse(QPointF(32, 32), 22, 22)
        p.setPen(_pen(ACCENT, 6))
        p.drawLine(QPointF(12, 52), QPointF(52, 12))
    elif name == "mask_invert":
        p.setPen(_pen(INK, 4))
        p.setBrush(QColor(230, 50, 90, 140))
        p.drawRect(QRectF(8, 8, 48, 48))
        p.setBrush(QColor(255, 255, 255))
        p.drawEllipse(QPointF(32, 32), 14, 14)
    else:
        raise KeyError(name)


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QBrush(Qt.BrushStyle.NoBrush))
    _draw(name, painter)
    painter.end()
    return QIcon(pixmap)

