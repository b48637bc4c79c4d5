"""The Select object tool, driven with the mouse like a user: drag a box
around an object (or scribble over it), the mask snaps to its outline as one
undoable step, and the brush still edits it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import pytestqt  # noqa: E402,F401 - the test extra; missing, this fails (a skip would hide it)
from PySide6.QtCore import Qt  # noqa: E402

from inpaint_gui.canvas import Tool  # noqa: E402

from test_gui import dialogs, stroke, vp, window  # noqa: E402,F401 - fixtures
from test_selection import box_of, iou, scene  # noqa: E402


@pytest.fixture
def person(tmp_path):
    image, truth = scene(480, 640, "person", seed=3)
    path = tmp_path / "person.png"
    Image.fromarray(image).save(path)
    return path, truth


def _drag(qtbot, view, points, button=Qt.MouseButton.LeftButton):
    stroke(qtbot, view, points, button)


def test_box_drag_selects_the_object_as_one_undoable_step(qtbot, window, person):
    win = window
    path, truth = person
    assert win.open_photo(path)
    win.acts.select.trigger()
    assert win.canvas.tool == Tool.SELECT and win.acts.select.isChecked()
    view = win.canvas
    view.fit()
    x0, y0, x1, y1 = box_of(truth)
    steps = [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.linspace(0, 1, 8)]
    _drag(qtbot, view, steps)
    qtbot.waitUntil(lambda: not win.mask_model.is_empty(), timeout=60000)
    qtbot.waitUntil(lambda: not win.removal.is_selecting(), timeout=60000)
    mask = win.mask_model.hole()
    assert (mask & truth).sum() >= 0.99 * truth.sum(), "the object is covered"
    assert iou(mask, truth) >= 0.85, iou(mask, truth)  # a few pixels grown around it
    assert win.mask_model.stack.count() == 1
    assert win.mask_model.stack.text(0) == "Select object"
    # editable with the brush afterwards, and undone in one step
    win.set_tool(Tool.BRUSH)
    view.set_brush_size(12)
    stroke(qtbot, view, [(40, 40), (80, 40)])
    assert win.mask_model.mask[40, 60]
    win.acts.undo.trigger()
    win.acts.undo.trigger()
    assert win.mask_model.is_empty()
    win.acts.redo.trigger()
    assert np.array_equal(win.mask_model.hole(), mask)


def test_scribble_selects_and_right_drag_takes_out(qtbot, window, person):
    win = window
    path, truth = person
    win.open_photo(path)
    win.set_tool(Tool.SELECT)
    view = win.canvas
    view.set_brush_size(20)
    ys, xs = np.nonzero(truth)
    cx, cy = xs.mean(), ys.mean()
    zigzag = [(cx, cy - 120), (cx - 25, cy - 70), (cx + 25, cy - 40), (cx - 25, cy), (cx + 25, cy + 30),
              (cx - 25, cy + 110), (cx + 25, cy + 110)]
    from model.selection import is_scribble
    assert is_scribble(zigzag) and not is_scribble([(0, 0), (50, 40), (100, 90), (200, 160)])
    _drag(qtbot, view, zigzag)
    qtbot.waitUntil(lambda: not win.removal.is_selecting() and not win.mask_model.is_empty(), timeout=60000)
    mask = win.mask_model.hole()
    assert iou(mask, truth) >= 0.8, iou(mask, truth)
    # right-drag a box around it: the object leaves the mask
    x0, y0, x1, y1 = box_of(truth)
    _drag(qtbot, view, [(x0, y0), ((x0 + x1) / 2, (y0 + y1) / 2), (x1, y1)], Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: not win.removal.is_selecting() and win.mask_model.stack.count() == 2, timeout=60000)
    assert (win.mask_model.hole() & truth).sum() < 0.01 * truth.sum(), "the object left the mask"


def test_a_click_without_a_box_explains_what_to_do(qtbot, window, person):
    win = window
    win.open_photo(person[0])
    win.set_tool(Tool.SELECT)
    view = win.canvas
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=vp(view, 100, 100))
    assert not win.removal.is_selecting() and win.mask_model.is_empty()
    assert "drag a box" in win.statusBar().currentMessage()
