"""Every menu and toolbar command, triggered the way a click does
(``QAction.trigger()``), in each state of the window; file dialogs answer
with real paths. Any exception in a slot fails the test (pytest-qt captures
them), and so does a command that silently does nothing where it must act.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtWidgets import QMenu  # noqa: E402

from inpaint_gui import messages  # noqa: E402
from inpaint_gui.main_window import PAGE_RESULT, MainWindow  # noqa: E402
from inpaint_gui.removal import Removal  # noqa: E402
from model.photos.imageio import write_mask  # noqa: E402

from test_gui import Dialogs, make_photo  # noqa: E402


def all_actions(win: MainWindow) -> list[QAction]:
    """Every action reachable from the menu bar (submenus filled as when
    opened) and the toolbar, each once."""
    found: list[QAction] = []

    def walk(menu: QMenu) -> None:
        menu.aboutToShow.emit()  # e.g. Open Recent fills itself here
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu())
            elif not a.isSeparator() and a not in found:
                found.append(a)

    for top in win.menuBar().actions():
        walk(top.menu())
    for a in win.toolbar.actions():
        if not a.isSeparator() and a.text() and a not in found and not a.text().startswith("_"):
            found.append(a)
    return [a for a in found if a.text()]


def name(a: QAction) -> str:
    return a.text().replace("&", "").rstrip("…")


@pytest.fixture
def files(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(make_photo()).save(photo)
    mask = np.zeros((200, 300), bool)
    mask[60:110, 140:190] = True
    mask_path = tmp_path / "mask.png"
    write_mask(mask_path, mask)
    return photo, mask_path, mask


@pytest.fixture
def ui(qtbot, monkeypatch, settings, tmp_path, files):
    d = Dialogs()
    monkeypatch.setattr(messages, "message", d.message)
    monkeypatch.setattr(messages, "get_save_path", d.get_save_path)
    monkeypatch.setattr(messages, "get_open_path", d.get_open_path)
    monkeypatch.setattr(messages, "get_folder", lambda *a: str(tmp_path))
    # the settings dialog is modal (exec): show it, then cancel it
    from inpaint_gui.dialogs.settings import SettingsDialog
    opened = []
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: (opened.append(self), self.show(), self.reject(), 0)[-1])
    d.settings_opened = opened
    d.answers["Unsaved"] = messages.Button.Discard
    d.answers["Revert"] = messages.Button.Yes
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1100, 760)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.inpainter is not None, timeout=60000)
    yield win, d
    win.modified = False
    for name_ in ("batch_dialog", "finetune_dialog"):
        dialog = getattr(win, name_, None)
        if dialog is not None:
            try:
                dialog.close()
            except RuntimeError:
                pass
    win.removal.shutdown()


def _settle(qtbot, win) -> None:
    qtbot.waitUntil(lambda: not win.is_busy() and not win.removal.is_loading(), timeout=60000)


def test_import_mask_menu_opens_the_file_dialog_and_loads_the_mask(qtbot, ui, files):
    win, d = ui
    photo, mask_path, mask = files
    assert win.open_photo(photo)
    d.open_path = str(mask_path)
    with qtbot.captureExceptions() as exceptions:
        win.acts.import_mask.trigger()
    assert not exceptions, exceptions
    assert np.array_equal(win.mask_model.hole(), mask)
    win.acts.undo.trigger()
    assert win.mask_model.is_empty()


@pytest.mark.parametrize("state", ["no photo", "editing", "result"])
def test_every_menu_and_toolbar_action_triggers_without_error(qtbot, ui, files, tmp_path, state):
    win, d = ui
    photo, mask_path, mask = files
    d.open_path = str(photo)
    d.save_path = str(tmp_path / "out.png")

    cached = []

    def prepare() -> None:
        _settle(qtbot, win)
        if state == "no photo":
            return
        if win.path is None or win.stack.currentIndex() == 0:
            assert win.open_photo(photo)
        if win.stack.currentIndex() == PAGE_RESULT and state == "editing":
            win.back_to_edit()
        if win.mask_model.is_empty():
            win.mask_model.apply(mask, "test mask")
        if state == "result" and win.stack.currentIndex() != PAGE_RESULT:
            if not cached:  # one real removal; later the same result is shown again (as Remove would)
                win.remove()
                qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
                cached.append(win.result)
            else:
                win.show_removal(Removal(win.image, win.mask_model.hole(), cached[0]))

    actions = all_actions(win)
    names = [name(a) for a in actions]
    for expected in ("Open", "Save", "Save As", "Import Mask", "Export Mask", "Revert to Original", "Quit",
                     "Undo", "Redo", "Clear Mask", "Invert Mask", "Grow Mask", "Shrink Mask", "Settings",
                     "Brush", "Eraser", "Rectangle", "Lasso", "Select Object", "Remove", "Cancel",
                     "Accept Refined", "Accept Coarse", "Back to Mask", "Batch", "Fine-tune Model",
                     "Zoom In", "Zoom Out", "Fit to Window"):
        assert expected in names, f"{expected} missing from the menus: {names}"
    quit_action = win.acts.quit
    triggered = []
    for action in actions:
        if action is quit_action:
            continue
        prepare()
        if d.open_path != str(photo):
            d.open_path = str(photo)
        if action is win.acts.import_mask:
            d.open_path = str(mask_path)
            if state == "editing":  # another mask first, so the import has something to change
                other = np.zeros_like(mask)
                other[:8, :8] = True
                win.mask_model.apply(other, "before import")
        if not action.isEnabled():
            continue
        with qtbot.captureExceptions() as exceptions:
            action.trigger()
            qtbot.wait(10)
            _settle(qtbot, win)
        assert not exceptions, f"{name(action)} ({state}) raised: {exceptions[0][1]!r}"
        triggered.append(name(action))
        if action is win.acts.import_mask:
            assert np.array_equal(win.mask_model.hole(), mask), f"Import Mask ({state}) did not load the file"
    # Invert Mask before Remove leaves too little context: the one refusal a user should see here
    unexpected = [e for e in d.errors() if "at most 90% can be removed" not in e[2]]
    assert not unexpected, unexpected
    # each state reaches the commands a user can use there
    if state == "no photo":
        assert {"Open", "Batch", "Fine-tune Model", "Settings"} <= set(triggered)
    elif state == "editing":
        assert {"Import Mask", "Export Mask", "Clear Mask", "Remove", "Select Object", "Save As"} <= set(triggered)
    else:
        assert {"Accept Refined", "Accept Coarse", "Back to Mask"} <= set(triggered)
    assert d.settings_opened, "Settings opened its dialog"
    with qtbot.captureExceptions() as exceptions:
        win.modified = False
        quit_action.trigger()
    assert not exceptions
    assert not win.isVisible()
