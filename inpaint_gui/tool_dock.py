"""The tool settings beside the canvas: the tools, brush size and mask
opacity, growing, shrinking, clearing and inverting the mask, and the
Remove button. Its buttons trigger the window's actions, so menus,
shortcuts and the dock do one thing each."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDockWidget, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from .icons import icon


class ToolDock(QDockWidget):
    brush_size_picked = Signal(int)  # the user moved the size slider or spin box

    def __init__(self, parent: QWidget | None, tool_actions: Sequence[QAction], *, grow: QAction, shrink: QAction,
                 clear: QAction, invert: QAction, remove: QAction, mask_opacity: float,
                 navigator: QWidget | None = None):
        super().__init__("Tool settings", parent)
        self.setObjectName("tool_dock")
        # closable: View ▸ Tool settings (its toggle action) is enabled only then
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.navigator = navigator
        panel = QWidget()
        layout = QVBoxLayout(panel)

        tools = QGroupBox("Tool")
        row = QHBoxLayout(tools)
        for a in tool_actions:
            b = QToolButton()
            b.setDefaultAction(a)
            b.setIconSize(QSize(28, 28))
            b.setAutoRaise(True)
            row.addWidget(b)
        row.addStretch(1)
        layout.addWidget(tools)

        brush = QGroupBox("Brush")
        form = QFormLayout(brush)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(1, 400)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, 1000)
        self.size_spin.setSuffix(" px")
        for w in (self.size_slider, self.size_spin):
            w.valueChanged.connect(self.brush_size_picked)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_slider, 1)
        size_row.addWidget(self.size_spin)
        form.addRow("Size ([ ]):", size_row)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(10, 100)
        self.opacity_slider.setValue(int(round(mask_opacity * 100)))
        form.addRow("Mask opacity:", self.opacity_slider)
        layout.addWidget(brush)

        mask = QGroupBox("Mask")
        grid = QVBoxLayout(mask)
        grow_row = QHBoxLayout()
        self.grow_spin = QSpinBox()
        self.grow_spin.setRange(1, 200)
        self.grow_spin.setValue(5)
        self.grow_spin.setSuffix(" px")
        grow_row.addWidget(self.grow_spin)
        for a, text in ((grow, "Grow"), (shrink, "Shrink")):
            b = QPushButton(text)
            b.clicked.connect(a.trigger)
            b.setToolTip(a.toolTip())
            grow_row.addWidget(b)
        grid.addLayout(grow_row)
        ops = QHBoxLayout()
        for a, text in ((clear, "Clear"), (invert, "Invert")):
            b = QPushButton(a.icon(), text)
            b.clicked.connect(a.trigger)
            b.setToolTip(a.toolTip())
            ops.addWidget(b)
        grid.addLayout(ops)
        layout.addWidget(mask)

        self.remove_button = QPushButton(icon("remove"), "  Remove  (Enter)")
        self.remove_button.setIconSize(QSize(22, 22))
        self.remove_button.setMinimumHeight(40)
        self.remove_button.setStyleSheet("font-weight: 600;")
        self.remove_button.clicked.connect(remove.trigger)
        layout.addWidget(self.remove_button)

        hints = QLabel("<small>Left drag: paint &nbsp;·&nbsp; right drag: erase<br>"
                       "Wheel: zoom &nbsp;·&nbsp; Space+drag or middle: pan<br>"
                       "[ ] brush size &nbsp;·&nbsp; Ctrl+Z / Ctrl+Shift+Z undo/redo</small>")
        hints.setStyleSheet("color: #777;")
        hints.setWordWrap(True)
        layout.addWidget(hints)
        if navigator is not None:  # the whole photo, in the panel's free height
            box = QGroupBox("Navigator")
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(4, 4, 4, 4)
            box_layout.addWidget(navigator)
            layout.addWidget(box, 1)
        else:
            layout.addStretch(1)
        self.setWidget(panel)
        self.setMinimumWidth(250)

    def show_brush_size(self, size: int) -> None:
        """Show the canvas's brush size (set by [ ] or the settings) without echoing it back."""
        for w in (self.size_slider, self.size_spin):
            w.blockSignals(True)
            w.setValue(size)
            w.blockSignals(False)
