"""input | coarse | refined, side by side, with synchronised zoom and pan.

The coarse pane is there only for a fill that has a coarse stage (the
network); for another fill (Telea, PatchMatch...) the mask pane takes its
place: input | mask | result.

The panes are laid out to use the window: in a row for tall photos, in a
column or a 2 x 2 grid (with a fourth pane showing the mask over the input)
for wide ones, whichever shows the photo largest; where all of these leave
it small (a 4:3 photo in a 16:10 window), the refined pane takes two
thirds of the width, input and coarse stacked beside it (``best_grid``).

Options: flick between before and after in one large view (B), and (with
a coarse stage) a difference heatmap of coarse vs refined inside the mask in
place of the refined panel, with its colour scale underneath.
"""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QGraphicsScene, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QRadioButton, QVBoxLayout, QWidget)

from .views import ImageItem, ZoomView

PANELS = ("input", "coarse", "refined")
MASK_PANEL = "mask"  # the input with the mask over it: the fourth pane of the 2 x 2 grid
# (rows, columns, places of input, coarse, refined[, mask]) tried for each window and photo;
# a place is (row, column[, rows spanned, columns spanned])
GRIDS = {
    "row": (1, 3, ((0, 0), (0, 1), (0, 2))),
    "column": (3, 1, ((0, 0), (1, 0), (2, 0))),
    "grid": (2, 2, ((0, 0), (0, 1), (1, 1), (1, 0))),
    # the refined pane large (two thirds of the width), input and coarse stacked beside it
    "focus": (2, 3, ((0, 2), (1, 2), (0, 0, 2, 2))),
}
EQUAL_GRIDS = ("row", "column", "grid")
TITLE_HEIGHT = 22  # pixels each pane's title takes
GAP = 4
FOCUS_GAIN = 1.5  # the large refined pane is chosen when it shows the photo this much larger


def pane_scale(grid: str, area_w: int, area_h: int, photo_w: int, photo_h: int) -> float:
    """How large (screen pixels per photo pixel) the photo shows in the refined pane of ``grid``."""
    rows, cols, places = GRIDS[grid]
    _, _, row_span, col_span = (*places[2], 1, 1)[:4]
    pane_w = (area_w - GAP * (cols - 1)) / cols * col_span + GAP * (col_span - 1)
    pane_h = (area_h - GAP * (rows - 1)) / rows * row_span + GAP * (row_span - 1) - TITLE_HEIGHT
    return max(0.0, min(pane_w / max(1, photo_w), pane_h / max(1, photo_h)))


def best_grid(area_w: int, area_h: int, photo_w: int, photo_h: int, equal: tuple[str, ...] = EQUAL_GRIDS) -> str:
    """The layout that shows the photo largest: of the ``equal`` panes, a row
    unless another is clearly (>10 %) larger; the large refined pane when
    every equal layout leaves the photo small (a 4:3 photo in a 16:10 window)."""
    scales = {g: pane_scale(g, area_w, area_h, photo_w, photo_h) for g in GRIDS}
    best = max(equal, key=scales.get)
    best = best if scales[best] > 1.1 * scales["row"] else "row"
    return "focus" if scales["focus"] > FOCUS_GAIN * scales[best] else best


def hole_frame(hole: np.ndarray) -> tuple[int, int, int, int] | None:
    """Where a new result opens (x0, y0, x1, y1): the holes' bounding box with
    a margin of half its size (at least 48 px), at least a quarter of the
    photo's shorter side wide and tall (a speck is not blown up to 6400 %);
    None (fit the photo) when that spans most of the photo."""
    ys, xs = np.nonzero(hole)
    if ys.size == 0:
        return None
    h, w = hole.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    margin = max(48, max(x1 - x0, y1 - y0) // 2)
    side = min(h, w) // 4
    bw, bh = max(x1 - x0 + 2 * margin, side), max(y1 - y0 + 2 * margin, side)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0, x1 = max(0, int(cx - bw / 2)), min(w, int(cx + bw / 2))
    y0, y1 = max(0, int(cy - bh / 2)), min(h, int(cy + bh / 2))
    if (x1 - x0) >= 0.7 * w and (y1 - y0) >= 0.7 * h:
        return None
    return x0, y0, x1, y1


def mask_overlay(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The input with the removed region tinted red (the mask pane)."""
    out = image.copy()
    red = np.array([255, 40, 80], np.float32)
    out[hole] = (image[hole].astype(np.float32) * 0.45 + red * 0.55).astype(np.uint8)
    return out


def heat_colours(levels: np.ndarray) -> np.ndarray:
    """The heatmap's colour map (turbo): uint8 levels 0..255 -> RGB. 0 (no
    difference) is dark blue-violet, 255 (the scale's top) dark red."""
    return cv2.cvtColor(cv2.applyColorMap(np.ascontiguousarray(levels, np.uint8), cv2.COLORMAP_TURBO),
                        cv2.COLOR_BGR2RGB)


def legend_strip(width: int = 256, height: int = 12) -> np.ndarray:
    """The colour scale drawn under the heatmap: left = 0 (same), right = the top."""
    levels = np.linspace(0, 255, width).round().astype(np.uint8)
    return np.ascontiguousarray(np.repeat(heat_colours(levels[None, :]), height, axis=0))


def difference_heatmap(image: np.ndarray, coarse: np.ndarray, refined: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """|coarse - refined| inside the mask as a colour map over a dimmed grey photo."""
    diff = np.abs(coarse.astype(np.int16) - refined.astype(np.int16)).mean(axis=2)
    # scale by the 99th percentile so a few outliers do not turn the rest black
    peak = max(float(np.percentile(diff[hole], 99)) if hole.any() else 0.0, 4.0)
    scaled = np.clip(diff / peak * 255.0, 0, 255).astype(np.uint8)
    colour = heat_colours(scaled)
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
        self._layout = layout

    def show_image(self, image: np.ndarray, title: str) -> None:
        self.item.set_image(image)
        self.scene.setSceneRect(QRectF(0, 0, image.shape[1], image.shape[0]))
        self.title.setText(title)


class ResultView(QWidget):
    accept_requested = Signal(str)  # "refined" or "coarse"
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: dict[str, np.ndarray] = {}  # input, refined (the result) and, with a coarse stage, coarse
        self.result_title = "refined"
        self.hole: np.ndarray | None = None
        self._mask_image: np.ndarray | None = None
        self._syncing = False
        self.opened_on: QRectF | None = None  # what a new result opens on (None: the whole photo)

        self.panels = {name: _Panel(name) for name in PANELS + (MASK_PANEL,)}
        self.views = [p.view for p in self.panels.values()]
        for view in self.views:
            view.view_changed.connect(lambda v=view: self._sync_from(v))
        self.grid_name = "row"

        # the heatmap's colour scale, under the refined pane while the heatmap shows
        self.legend = QWidget()
        legend_row = QHBoxLayout(self.legend)
        legend_row.setContentsMargins(6, 2, 6, 2)
        self.legend_low = QLabel("0: same")
        self.legend_bar = QLabel()
        strip = legend_strip()
        self._legend_image = QImage(strip.data, strip.shape[1], strip.shape[0], strip.strides[0],
                                    QImage.Format.Format_RGB888).copy()
        self.legend_bar.setPixmap(QPixmap.fromImage(self._legend_image))
        self.legend_bar.setToolTip("colour scale of |coarse − refined|, averaged over R, G, B")
        self.legend_high = QLabel()
        legend_row.addStretch(1)
        for w in (self.legend_low, self.legend_bar, self.legend_high):
            legend_row.addWidget(w)
        legend_row.addStretch(1)
        self.legend.hide()
        self.panels["refined"]._layout.addWidget(self.legend)

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

        panels = QGridLayout()
        panels.setSpacing(GAP)
        panels.setContentsMargins(0, 0, 0, 0)
        self.grid = panels
        self.pane_area = QWidget()
        self.pane_area.setLayout(panels)
        self._arrange("row")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(options)
        layout.addWidget(self.pane_area, 1)

        self.side_by_side.toggled.connect(self._update_mode)
        self.show_before.toggled.connect(self._update_mode)
        self.heatmap.toggled.connect(self._update_mode)
        self.accept_refined.clicked.connect(lambda: self.accept_requested.emit("refined"))
        self.accept_coarse.clicked.connect(lambda: self.accept_requested.emit("coarse"))
        self.back.clicked.connect(self.back_requested)

    # ------------------------------------------------------------------ api
    def set_result(self, image: np.ndarray, coarse: np.ndarray | None, refined: np.ndarray, hole: np.ndarray,
                   result_title: str = "refined") -> None:
        """Show a removal: the ``image`` before, the ``coarse`` stage (None
        for a fill without one) and the result ``refined`` (its pane titled
        ``result_title``), ``hole`` where it was filled."""
        self.images = {"input": image, "refined": refined} | ({} if coarse is None else {"coarse": coarse})
        self.result_title = result_title
        self.hole = hole
        self._heat: np.ndarray | None = None
        self._mask_image: np.ndarray | None = None
        self.show_before.setChecked(False)
        staged = self.has_coarse()
        if not staged:
            self.heatmap.setChecked(False)
        self.heatmap.setVisible(staged)
        self.accept_coarse.setVisible(staged)
        self.accept_refined.setText("Accept refined" if staged else "Accept result")
        if self._panes() != self._placed:  # a fill with a coarse stage after one without, or back
            self._arrange(self.grid_name if self.grid_name in self._grids() + ("focus",) else "row")
        self._update_mode()
        # every pane, shown yet or not, opens on this removal's holes (never on the last result's zoom)
        box = hole_frame(hole)
        self.opened_on = None if box is None else QRectF(box[0], box[1], box[2] - box[0], box[3] - box[1])
        for view in self.views:
            view.frame(self.opened_on)

    def heatmap_image(self) -> np.ndarray:
        if self._heat is None:
            im = self.images
            self._heat = difference_heatmap(im["input"], im["coarse"], im["refined"], self.hole)
            diff = np.abs(im["coarse"].astype(np.int16) - im["refined"].astype(np.int16)).mean(axis=2)[self.hole]
            self._heat_peak = max(float(np.percentile(diff, 99)), 4.0) if diff.size and diff.max() > 0 else 0.0
            self._heat_scale = max(float(np.percentile(diff, 99)) if diff.size else 0.0, 4.0)  # as drawn
        return self._heat

    def has_coarse(self) -> bool:
        """Whether the result shown has a coarse stage (a pane, a heatmap and an Accept of its own)."""
        return "coarse" in self.images

    def _panes(self) -> tuple[str, ...]:
        """The panes in the grids' places: input, coarse (or, without it,
        the mask), the result, and the mask in a fourth place."""
        return PANELS + (MASK_PANEL,) if self.has_coarse() or not self.images else ("input", MASK_PANEL, "refined")

    def _grids(self) -> tuple[str, ...]:
        """The equal layouts that fit the panes (the 2 x 2 grid needs four)."""
        return EQUAL_GRIDS if len(self._panes()) > 3 else tuple(g for g in EQUAL_GRIDS if g != "grid")

    def shown(self) -> dict[str, np.ndarray]:
        """What each visible panel displays (for tests and screenshots)."""
        return {name: p.item.image() for name, p in self.panels.items() if p.isVisible()}

    def _photo_size(self) -> tuple[int, int]:
        h, w = self.images["input"].shape[:2] if self.images else (1, 1)
        return w, h

    def _arrange(self, grid: str) -> None:
        """Put the panes in ``grid``'s places (the mask pane only in the 2 x 2 grid)."""
        self.grid_name = grid
        rows, cols, places = GRIDS[grid]
        for name in PANELS + (MASK_PANEL,):
            self.grid.removeWidget(self.panels[name])
        for i in range(3):
            self.grid.setRowStretch(i, 1 if i < rows else 0)
            self.grid.setColumnStretch(i, 1 if i < cols else 0)
        self._placed = self._panes()
        for name, place in zip(self._placed, places):
            self.grid.addWidget(self.panels[name], *place)
        self._set_visibility()

    def _set_visibility(self) -> None:
        flick = self.flick.isChecked()
        if flick:  # one large view
            for name in PANELS + (MASK_PANEL,):
                self.panels[name].setVisible(name == "refined")
            self.grid.removeWidget(self.panels["refined"])
            self.grid.addWidget(self.panels["refined"], 0, 0, 3, 3)
            return
        rows, cols, places = GRIDS[self.grid_name]
        self.grid.removeWidget(self.panels["refined"])
        self.grid.addWidget(self.panels["refined"], *places[2])
        placed = self._panes()[:len(places)]
        for name in PANELS + (MASK_PANEL,):
            self.panels[name].setVisible(name in placed)

    def _relayout(self) -> None:
        """Choose the grid that shows the photo largest in the space there is now."""
        if not self.images or self.flick.isChecked():
            return
        area = self.pane_area.size()
        grid = best_grid(area.width(), area.height(), *self._photo_size(), self._grids())
        if grid != self.grid_name:
            self._arrange(grid)
            for view in self.views:
                view.refit()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._relayout()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._relayout()

    def _update_mode(self) -> None:
        if not self.images:
            return
        flick = self.flick.isChecked()
        self.show_before.setEnabled(flick)
        self._set_visibility()
        self.panels["input"].show_image(self.images["input"], "input")
        if self.has_coarse():
            self.panels["coarse"].show_image(self.images["coarse"], "coarse")
        if self.panels[MASK_PANEL].isVisible() or self._mask_image is None:
            if self._mask_image is None:
                self._mask_image = mask_overlay(self.images["input"], self.hole)
            self.panels[MASK_PANEL].show_image(self._mask_image, "mask (red: removed)")
        refined = self.panels["refined"]
        heat = self.heatmap.isChecked() and self.has_coarse()
        self.legend.setVisible(heat)
        if heat:
            image = self.heatmap_image()
            peak = self._heat_peak
            self.legend_high.setText(f"{self._heat_scale:.0f}+ levels")
            note = "identical inside the mask" if peak == 0 else "inside the mask, colour scale below"
            refined.show_image(image, f"difference coarse vs refined ({note})")
        elif flick and self.show_before.isChecked():
            refined.show_image(self.images["input"], "before")
        else:
            title = self.result_title
            refined.show_image(self.images["refined"], f"after ({title})" if flick else title)
        self._relayout()

    def _sync_from(self, source: ZoomView) -> None:
        """Show the same part of the photo in the other views (same-size
        scenes): a pane of the same size takes the zoom and scroll position;
        one of another size (the large refined pane) shows the same region."""
        if self._syncing or not source.isVisible():
            return  # a hidden pane (e.g. the mask pane outside the grid) has another size: never lead
        self._syncing = True
        try:
            shown = source.mapToScene(source.viewport().rect()).boundingRect()
            for view in self.views:
                if view is source:
                    continue
                if view.viewport().size() == source.viewport().size():
                    view.setTransform(source.transform())
                    view.horizontalScrollBar().setValue(source.horizontalScrollBar().value())
                    view.verticalScrollBar().setValue(source.verticalScrollBar().value())
                else:
                    view.fitInView(shown, Qt.AspectRatioMode.KeepAspectRatio)
                view._fit_mode, view._fit_target = source._fit_mode, source._fit_target
        finally:
            self._syncing = False
