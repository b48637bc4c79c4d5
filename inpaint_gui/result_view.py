"""input | coarse | refined, side by side, with synchronised zoom and pan.

Options: flick between before and after in one large view (B), and a
difference heatmap of coarse vs refined inside the mask in place of the
refined panel.
"""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QGraphicsScene, QHBoxLayout, QLabel, QPushButton,
                               QRadioButton, QVBoxLayout, QWidget)

from .views import ImageItem, ZoomView

PANELS = ("input", "coarse", "refined")


def difference_heatmap(image: np.ndarray, coarse: np.ndarray, refined: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """|coarse - refined| inside the mask as a colour map over a dimmed grey photo."""
    diff = np.abs(coarse.astype(np.int16) - refined.astype(np.int16)).mean(axis=2)
    # scale by the 99th percentile so a few outliers do not turn the rest black
    peak = max(float(np.percentile(diff[hole], 99)) if hole.any() else 0.0, 4.0)
    scaled = np.clip(diff / peak * 255.0, 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    out = np.repeat((grey * 0.45).astype(np.uint8)[..., None], 3, axis=2)
    out[hole] = colour[hole]
    return out


class _Panel(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-weight: 600; padding: 3px;")
        self.view = ZoomView()
        # nothing to paint here: left drag pans, and the synced views need no scroll bars
        self.view.setDragMode(ZoomView.DragMode.ScrollHandDrag)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scene = QGraphicsScene(self)
        self.view.setScene(self.scene)
        self.item = ImageItem()
        self.scene.addItem(self.item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def show_image(self, image: np.ndarray, title: str) -> None:
        self.item.set_image(image)
        self.scene.setSceneRect(QRectF(0, 0, image.shape[1], image.shape[0]))
        self.title.setText(title)


class ResultView(QWidget):
    accept_requested = Signal(str)  # "refined" or "coarse"
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: dict[str, np.ndarray] = {}
        self.hole: np.ndarray | None = None
        self._syncing = False

        self.panels = {name: _Panel(name) for name in PANELS}
        self.views = [p.view for p in self.panels.values()]
        for view in self.views:
            view.view_changed.connect(lambda v=view: self._sync_from(v))

        # options row
        self.side_by_side = QRadioButton("Side by side")
        self.flick = QRadioButton("Before / after")
        self.side_by_side.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.side_by_side)
        group.addButton(self.flick)
        self.show_before = QPushButton("Show before (B)")
        self.show_before.setCheckable(True)
        self.show_before.setShortcut("B")
        self.show_before.setToolTip("Flick between the photo before and after removal")
        self.heatmap = QCheckBox("Difference heatmap (coarse vs refined)")
        self.accept_refined = QPushButton("Accept refined")
        self.accept_refined.setDefault(True)
        self.accept_coarse = QPushButton("Accept coarse")
        self.back = QPushButton("Back to mask")
        self.accept_refined.setToolTip("Use the refined result as the new working photo (Enter)")
        self.back.setToolTip("Discard this result and keep editing the mask (Esc)")

        options = QHBoxLayout()
        options.addWidget(self.side_by_side)
        options.addWidget(self.flick)
        options.addWidget(self.show_before)
        options.addSpacing(16)
        options.addWidget(self.heatmap)
        options.addStretch(1)
        options.addWidget(self.back)
        options.addWidget(self.accept_coarse)
        options.addWidget(self.accept_refined)

        panels = QHBoxLayout()
        panels.setSpacing(4)
        for panel in self.panels.values():
            panels.addWidget(panel, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(options)
        layout.addLayout(panels, 1)

        self.side_by_side.toggled.connect(self._update_mode)
        self.show_before.toggled.connect(self._update_mode)
        self.heatmap.toggled.connect(self._update_mode)
        self.accept_refined.clicked.connect(lambda: self.accept_requested.emit("refined"))
        self.accept_coarse.clicked.connect(lambda: self.accept_requested.emit("coarse"))
        self.back.clicked.connect(self.back_requested)

    # ------------------------------------------------------------------ api
    def set_result(self, image: np.ndarray, coarse: np.ndarray, refined: np.ndarray, hole: np.ndarray) -> None:
        self.images = {"input": image, "coarse": coarse, "refined": refined}
        self.hole = hole
        self._heat: np.ndarray | None = None
        self.show_before.setChecked(False)
        self._update_mode()
        for view in self.views:
            view.fit()

    def heatmap_image(self) -> np.ndarray:
        if self._heat is None:
            im = self.images
            self._heat = difference_heatmap(im["input"], im["coarse"], im["refined"], self.hole)
            diff = np.abs(im["coarse"].astype(np.int16) - im["refined"].astype(np.int16)).mean(axis=2)[self.hole]
            self._heat_peak = max(float(np.percentile(diff, 99)), 4.0) if diff.size and diff.max() > 0 else 0.0
        return self._heat

    def shown(self) -> dict[str, np.ndarray]:
        """What each visible panel displays (for tests and screenshots)."""
        return {name: p.item.image() for name, p in self.panels.items() if p.isVisible()}

    def _update_mode(self) -> None:
        if not self.images:
            return
        flick = self.flick.isChecked()
        self.show_before.setEnabled(flick)
        self.panels["input"].setVisible(not flick)
        self.panels["coarse"].setVisible(not flick)
        self.panels["input"].show_image(self.images["input"], "input")
        self.panels["coarse"].show_image(self.images["coarse"], "coarse")
        refined = self.panels["refined"]
        if self.heatmap.isChecked():
            heat = self.heatmap_image()
            peak = self._heat_peak
            note = "identical inside the mask" if peak == 0 else f"blue = same, red = {peak:.0f}+ levels"
            refined.show_image(heat, f"difference coarse vs refined ({note})")
        elif flick and self.show_before.isChecked():
            refined.show_image(self.images["input"], "before")
        else:
            refined.show_image(self.images["refined"], "after (refined)" if flick else "refined")

    def _sync_from(self, source: ZoomView) -> None:
        """Copy zoom and scroll position to the other views (same-size scenes)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            for view in self.views:
                if view is source:
                    continue
                view.setTransform(source.transform())
                view._fit_mode = source._fit_mode
                view.horizontalScrollBar().setValue(source.horizontalScrollBar().value())
                view.verticalScrollBar().setValue(source.verticalScrollBar().value())
        finally:
            self._syncing = False
