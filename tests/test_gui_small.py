"""Small things of the app, as a user meets them: View ▸ Tool settings,
the fine-tune preview sheet opened full size."""
from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from test_gui import dialogs, window  # noqa: F401 - fixtures


def test_view_tool_settings_hides_and_shows_the_panel(qtbot, window):
    win = window
    view_menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "View")
    toggle = next(a for a in view_menu.actions() if a.text().replace("&", "") == "Tool settings")
    assert toggle.isEnabled() and toggle.isChecked() and win.dock.isVisible()
    toggle.trigger()
    assert not win.dock.isVisible() and not toggle.isChecked()
    toggle.trigger()
    assert win.dock.isVisible() and toggle.isChecked()


def test_a_click_on_the_preview_sheet_opens_it_full_size(qtbot, settings, tmp_path):
    from inpaint_gui.dialogs.finetune import FinetuneDialog
    dialog = FinetuneDialog(None, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    sheet = np.random.default_rng(0).integers(0, 255, (260, 1300, 3), dtype=np.uint8)
    path = tmp_path / "preview_step10.png"
    Image.fromarray(sheet).save(path)
    dialog._show_preview(path)  # what a training step's report does
    small = dialog.preview.pixmap()
    assert small.width() < 1300, "the dialog shows it reduced"
    qtbot.mouseClick(dialog.preview, Qt.MouseButton.LeftButton)
    viewer = dialog.preview_window
    assert viewer is not None and viewer.isVisible()
    qtbot.waitExposed(viewer)
    assert viewer.view.zoom() == 1.0, "full size"
    assert np.array_equal(viewer.item.image(), sheet)
    assert "preview_step10.png" in viewer.windowTitle()
    viewer.close()
