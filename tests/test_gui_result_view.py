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
    assert wide in ("grid", "column", "focus")
    assert pane_scale(wide, 1270, 700, 3000, 2000) > 1.1 * pane_scale("row", 1270, 700, 3000, 2000)
    assert best_grid(1270, 700, 4000, 1000) in ("grid", "column")  # a panorama
    assert best_grid(1270, 690, 4000, 3000) == "focus"  # 4:3 in the default window: 13 % per pane otherwise


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
    # zoom and pan follow across every visible pane: the same part of the photo in each
    views = [p.view for p in view.panels.values() if p.isVisible()]
    views[1].set_zoom(2.5)
    views[1].horizontalScrollBar().setValue(views[1].horizontalScrollBar().maximum() // 3)
    lead = shown_rect(views[1])
    for v in views:
        if v.viewport().size() == views[1].viewport().size():
            assert v.zoom() == pytest.approx(2.5)
            assert v.horizontalScrollBar().value() == views[1].horizontalScrollBar().value()
        rect = shown_rect(v)
        assert abs(rect.center().x() - lead.center().x()) < 3 and abs(rect.center().y() - lead.center().y()) < 3
        assert rect.width() >= lead.width() - 3 or rect.height() >= lead.height() - 3  # all of it, at least one way


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


# ------------------------------------------------ through the window, as a user
from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from inpaint_gui.main_window import PAGE_EDIT, PAGE_RESULT  # noqa: E402

from test_gui import dialogs, make_photo, stroke, window  # noqa: E402,F401 - fixtures


def shown_rect(view):
    """The part of the photo (scene) a view shows."""
    return view.mapToScene(view.viewport().rect()).boundingRect()


def zoom_label(win) -> str:
    return win.status_zoom.text()


def test_each_result_opens_on_its_own_holes_and_the_zoom_label_is_the_active_views(qtbot, window, tmp_path):
    win = window
    path = tmp_path / "wide.png"
    Image.fromarray(make_photo(900, 1350, seed=3)).save(path)
    assert win.open_photo(path)
    qtbot.wait(50)
    assert zoom_label(win) == f"{win.canvas.zoom() * 100:.0f} %"
    # object A, top left: paint it, Enter
    win.canvas.set_brush_size(24)
    stroke(qtbot, win.canvas, [(150, 165), (195, 180), (225, 195)])
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
    qtbot.wait(100)
    refined = win.result_view.panels["refined"].view
    a = shown_rect(refined)
    assert a.contains(190, 180) and a.width() < 900, f"result A opens framed on its hole: {a}"
    assert zoom_label(win) == f"{refined.zoom() * 100:.0f} %"
    # 100 % (Ctrl+1) and pan in the input pane by dragging: every pane and the label follow
    qtbot.keyClick(win.result_view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert refined.zoom() == pytest.approx(1.0)
    assert zoom_label(win) == "100 %"
    pane = win.result_view.panels["input"].view
    centre = pane.viewport().rect().center()
    qtbot.mousePress(pane.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(pane.viewport(), centre + type(centre)(-60, -40))
    qtbot.mouseRelease(pane.viewport(), Qt.MouseButton.LeftButton, pos=centre + type(centre)(-60, -40))
    wheel_zoom = refined.zoom()
    assert zoom_label(win) == f"{wheel_zoom * 100:.0f} %"
    # accept (Enter): the label is the editor's zoom again
    qtbot.keyClick(win.result_view, Qt.Key.Key_Return)
    assert win.stack.currentIndex() == PAGE_EDIT
    qtbot.wait(100)
    assert zoom_label(win) == f"{win.canvas.zoom() * 100:.0f} %"
    assert abs(win.canvas.zoom() - 1.0) > 0.05, "the editor is not at the result's 100 %"
    # object B, bottom right: its result opens on B, not at A's zoom and place
    win.canvas.fit()
    stroke(qtbot, win.canvas, [(1140, 705), (1185, 720), (1215, 735)])
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
    qtbot.wait(100)
    for name in ("input", "coarse", "refined"):
        b = shown_rect(win.result_view.panels[name].view)
        assert b.contains(1180, 720), f"{name} shows {b}, not the new hole"
        assert not b.contains(190, 180), f"{name} still shows A's place"
    assert zoom_label(win) == f"{refined.zoom() * 100:.0f} %"
    # Fit (Ctrl+0) shows the whole photo
    qtbot.keyClick(win.result_view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    whole = shown_rect(refined)
    assert whole.width() >= 1349 or whole.height() >= 899
    assert zoom_label(win) == f"{refined.zoom() * 100:.0f} %"


def test_a_hole_across_the_photo_opens_fitted():
    from inpaint_gui.result_view import hole_frame
    hole = np.zeros((600, 900), bool)
    hole[100:120, 20:880] = True
    hole[300:560, 400:420] = True
    assert hole_frame(hole) is None
    speck = np.zeros((600, 900), bool)
    speck[300:303, 450:453] = True
    x0, y0, x1, y1 = hole_frame(speck)
    assert x0 <= 450 and x1 >= 453 and y0 <= 300 and y1 >= 303
    assert min(x1 - x0, y1 - y0) >= 150, "a speck is shown with context, not blown up"


def test_a_4_3_photo_in_the_default_window_gets_a_large_refined_pane(qtbot, window, tmp_path):
    """The default 1280 x 820 window, a 4:3 photo: the refined pane shows it
    at least 1.5 x larger than three equal panes would; input and coarse
    beside it show the same place, also while zooming with the wheel."""
    from inpaint_gui.result_view import EQUAL_GRIDS, pane_scale
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    win = window
    win.resize(1280, 820)
    path = tmp_path / "four_three.png"
    Image.fromarray(make_photo(1200, 1600, seed=4)).save(path)
    assert win.open_photo(path)
    win.canvas.set_brush_size(30)
    stroke(qtbot, win.canvas, [(200, 200), (1400, 1000)])  # spans the photo: the result opens fitted
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
    qtbot.wait(100)
    rv = win.result_view
    area = rv.pane_area.size()
    equal = max(pane_scale(g, area.width(), area.height(), 1600, 1200) for g in EQUAL_GRIDS)
    refined = rv.panels["refined"].view
    assert refined.zoom() > 1.5 * equal, f"{rv.grid_name}: {refined.zoom():.3f} vs {equal:.3f} in equal panes"
    assert rv.panels["input"].isVisible() and rv.panels["coarse"].isVisible()
    # the wheel on the small input pane: the large pane shows the same place
    small = rv.panels["input"].view
    port = small.viewport()
    at = port.rect().center()
    event = QWheelEvent(at.toPointF(), port.mapToGlobal(at).toPointF(), QPoint(0, 0), QPoint(0, 480),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    from PySide6.QtWidgets import QApplication
    QApplication.sendEvent(port, event)
    assert small.zoom() > refined.zoom() * 0.3
    a, b = shown_rect(small), shown_rect(refined)
    # the same place: panes of other shapes clamp differently at the photo's edge, so compare the overlap
    both, either = a.intersected(b), a.united(b)
    overlap = both.width() * both.height() / (either.width() * either.height())
    assert overlap > 0.9, (a, b)
    assert zoom_label(win) == f"{refined.zoom() * 100:.0f} %"


def test_a_fill_without_a_coarse_stage_shows_no_coarse_pane(qtbot):
    """Telea, PatchMatch... give one result: no coarse pane, heatmap or Accept
    coarse; the mask pane takes the coarse pane's place, in no 2 x 2 grid."""
    view = ResultView()
    qtbot.addWidget(view)
    view.resize(1270, 720)
    view.show()
    qtbot.waitExposed(view)
    image, coarse, refined, hole = _result(300, 600)  # wide: the staged result takes the 2 x 2 grid or a column
    view.set_result(image, None, refined, hole, "result")
    qtbot.wait(50)
    shown = view.shown()
    assert set(shown) == {"input", MASK_PANEL, "refined"} and view.grid_name != "grid"
    assert np.array_equal(shown["refined"], refined)
    assert view.panels["refined"].title.text() == "result"
    assert not view.heatmap.isVisible() and not view.accept_coarse.isVisible()
    assert view.accept_refined.text() == "Accept result"
    view.heatmap.setChecked(True)  # (hidden, but even so) there is nothing to compare: the result stays shown
    assert np.array_equal(view.shown()["refined"], refined)
    view.heatmap.setChecked(False)
    # the network's result next: its coarse pane is back
    view.set_result(image, coarse, refined, hole)
    qtbot.wait(50)
    assert "coarse" in view.shown() and view.heatmap.isVisible() and view.accept_coarse.isVisible()
    assert view.panels["refined"].title.text() == "refined" and view.accept_refined.text() == "Accept refined"
