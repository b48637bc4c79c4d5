"""Issue #11, item 9 in the app: a mask over 90 % of the photo is refused with
the engine's own message (no result page, the photo and mask unchanged)."""
from __future__ import annotations

import numpy as np

import pytestqt  # noqa: E402,F401 - the test extra; missing, this fails (a skip would hide it)
from PySide6.QtCore import Qt  # noqa: E402

from inpaint_gui.main_window import PAGE_EDIT  # noqa: E402
from test_gui import dialogs, photo_file, window  # noqa: E402,F401 - fixtures


def test_9_gui_shows_the_engines_message_for_a_mask_over_90_percent(qtbot, window, photo_file, dialogs):
    win = window
    win.open_photo(photo_file)
    original = win.image.copy()
    win.mask_model.fill_rect(0, 0, 300, 200, 1)  # the whole 300 x 200 photo
    hole = win.mask_model.hole().copy()
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(dialogs.errors()), timeout=60000)
    kind, title, text = dialogs.errors()[-1]
    assert title == "Cannot remove" and "covers 100%" in text and "at most 90%" in text
    assert win.stack.currentIndex() == PAGE_EDIT
    assert np.array_equal(win.image, original) and np.array_equal(win.mask_model.hole(), hole)
