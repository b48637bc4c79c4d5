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


def test_the_side_panel_navigator_uses_its_room_and_moves_the_editor(qtbot, window, tmp_path):
    from test_gui import make_photo, stroke
    win = window
    path = tmp_path / "p.png"
    Image.fromarray(make_photo(800, 1200, seed=2)).save(path)
    assert win.open_photo(path)
    nav = win.navigator
    assert nav.isVisible()
    panel = win.dock.widget()
    assert nav.height() > 0.3 * panel.height(), f"the navigator takes {nav.height()} of {panel.height()} px"
    free = panel.height() - panel.layout().sizeHint().height()
    assert free < 0.1 * panel.height(), f"{free} px of the panel stay empty"
    # the mask painted in the editor shows in the navigator
    win.canvas.set_brush_size(60)
    stroke(qtbot, win.canvas, [(900, 600), (1000, 650)])
    shot = nav.grab().toImage()
    rect = nav.photo_rect()
    scale = rect.width() / 1200
    colour = shot.pixelColor(int(rect.left() + 950 * scale), int(rect.top() + 625 * scale))
    assert colour.red() > colour.green() + 60, "the mask is tinted in the navigator"
    # zoom in (Ctrl++), then a click in the navigator's bottom-right: the editor shows that place
    for _ in range(6):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert win.canvas.zoom() > 1.5
    target = rect.topLeft() + type(rect.topLeft())(1000 * scale, 700 * scale)
    qtbot.mouseClick(nav, Qt.MouseButton.LeftButton, pos=target.toPoint())
    c = win.canvas
    centre = c.mapToScene(c.viewport().rect().center())
    assert abs(centre.x() - 1000) < 30 and abs(centre.y() - 700) < 30, centre
