"""The result view: panes laid out to use the window, synced zoom, and a
heatmap legend that matches its colour map."""
from __future__ import annotations

import numpy as np
import pytest

import pytestqt  # noqa: E402,F401 - the test extra; missing, this fails (a skip would hide it)

from inpaint_gui.result_view import (MASK_PANEL, ResultView, best_grid, difference_heatmap, heat_colours,  # noqa: E402
                                     legend_strip, pane_scale)


def _result(h: int, w: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    hole = np.zeros((h, w), bool)
    hole[h // 4:h // 2, w // 3:w // 2] = True
    coarse = image.copy()
    coarse[hole] = 120
    refined = coarse.copy()
    return image, coarse, refined, hole


def covered_fraction(view: ResultView) -> float:
    """Share of the pane area that shows photo pixels."""
    h, w = view.images["input"].shape[:2]
    shown = sum(min(p.view.viewport().width(), w * p.view.zoom()) * min(p.view.viewport().height(), h * p.view.zoom())
                for p in view.panels.values() if p.isVisible())
    area = view.pane_area.width() * view.pane_area.height()
    return shown / area


def test_best_grid_uses_the_window_for_wide_and_tall_photos():
    assert best_grid(1270, 700, 2000, 3000) == "row"  # portrait: side by side
    wide = best_grid(1270, 700, 3000, 2000)  # landscape 3:2 in a 16:9 window
    assert wide in ("grid", "column")
    assert pane_scale(wide, 1270, 700, 3000, 2000) > 1.1 * pane_scale("row", 1270, 700, 3000, 2000)
    assert best_grid(1270, 700, 4000, 1000) in ("grid", "column")  # a panorama


@pytest.mark.parametrize("size", [(300, 600), (400, 600), (600, 400)])
def test_landscape_photo_fills_the_window_and_zoom_stays_in_sync(qtbot, size):
    view = ResultView()
    qtbot.addWidget(view)
    view.resize(1270, 720)
    view.show()
    qtbot.waitExposed(view)
    view.set_result(*_result(*size))
    qtbot.wait(50)
    frac = covered_fraction(view)
    h, w = size
    if w > h:
        assert view.grid_name != "row"
        assert view.panels[MASK_PANEL].isVisible() == (view.grid_name == "grid")
    assert frac > 0.55, f"{view.grid_name}: the photos cover only {frac:.0%} of the panes"
    # row layout for comparison: the chosen one shows the photo larger
    chosen = view.panels["refined"].view.zoom()
    view._arrange("row")
    qtbot.wait(50)
    for p in view.panels.values():
        p.view.fit()
    if w > h:
        assert chosen > 1.1 * view.panels["refined"].view.zoom()
    view._relayout()
    # zoom and pan follow across every visible pane
    views = [p.view for p in view.panels.values() if p.isVisible()]
    views[1].set_zoom(2.5)
    views[1].horizontalScrollBar().setValue(views[1].horizontalScrollBar().maximum() // 3)
    for v in views:
        assert v.zoom() == pytest.approx(2.5)
        assert v.horizontalScrollBar().value() == views[1].horizontalScrollBar().value()


def test_flick_mode_shows_one_large_view(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    view.set_result(*_result(300, 600))
    view.flick.setChecked(True)
    assert set(view.shown()) == {"refined"}
    qtbot.wait(50)
    assert view.panels["refined"].width() > 0.9 * view.pane_area.width()
    view.side_by_side.setChecked(True)
    assert {"input", "coarse", "refined"} <= set(view.shown())


def test_heatmap_legend_matches_the_colour_map(qtbot):
    view = ResultView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    image, coarse, refined, hole = _result(300, 400)
    view.set_result(image, coarse, refined, hole)  # identical coarse and refined
    view.heatmap.setChecked(True)
    assert view.legend.isVisible()
    shown = view.shown()["refined"]
    same_colour = shown[hole][0]
    strip = legend_strip()
    assert tuple(same_colour) == tuple(strip[0, 0]), "'same' is the legend's left end"
    assert tuple(same_colour) == tuple(heat_colours(np.zeros((1, 1), np.uint8))[0, 0])
    title = view.panels["refined"].title.text()
    assert "identical" in title and "blue" not in title
    # the legend image on screen is that strip
    bar = view.legend_bar.pixmap().toImage()
    left, right = bar.pixelColor(0, 5), bar.pixelColor(bar.width() - 1, 5)
    assert (left.red(), left.green(), left.blue()) == tuple(strip[0, 0])
    assert (right.red(), right.green(), right.blue()) == tuple(strip[0, -1])
    # a real difference: the most changed pixels take the legend's right end
    refined2 = refined.copy()
    refined2[hole] = 250
    heat = difference_heatmap(image, coarse, refined2, hole)
    assert tuple(heat[hole][0]) == tuple(strip[0, -1])
    view.set_result(image, coarse, refined2, hole)
    view.heatmap.setChecked(False)
    view.heatmap.setChecked(True)
    assert view.legend_high.text().startswith("130")
    view.heatmap.setChecked(False)
    assert not view.legend.isVisible()
