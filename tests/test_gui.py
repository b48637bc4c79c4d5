"""The desktop app, driven headless through the real main window (pytest-qt)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

import pytestqt  # noqa: E402,F401 - the test extra; missing, this fails (a skip would hide it)
from PySide6.QtCore import QPointF, Qt, QTimer  # noqa: E402

from inpaint_gui import messages  # noqa: E402
from inpaint_gui.canvas import Tool  # noqa: E402
from inpaint_gui.main_window import PAGE_EDIT, PAGE_RESULT, MainWindow  # noqa: E402
from inpaint_gui.mask_model import MaskModel  # noqa: E402
from model.photos.imageio import read_image, read_mask, write_mask  # noqa: E402

Button = messages.Button


def make_photo(h: int = 200, w: int = 300, seed: int = 0) -> np.ndarray:
    """Smooth gradient 'sky' with a few shapes: photo-like and cheap."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([90 + 120 * y / h, 140 + 60 * x / w, 230 - 80 * y / h], axis=2)
    img[h // 2:, :, :] = [70, 140, 60]
    img[h // 3:h // 3 + 40, w // 2:w // 2 + 30] = [200, 40, 40]  # "the object"
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


class Dialogs:
    """Stands in for every message box / file chooser; records what was asked."""

    def __init__(self):
        self.calls: list[tuple[str, str, str]] = []
        self.answers: dict[str, Button] = {}  # title substring -> answer
        self.save_path = ""
        self.open_path = ""
        self.offered: list[str] = []

    def message(self, parent, kind, title, text, buttons=Button.Ok, default=Button.NoButton, details=""):
        self.calls.append((kind, title, text))
        for key, answer in self.answers.items():
            if key in title:
                return answer
        return default if default != Button.NoButton else Button.Ok

    def get_save_path(self, parent, caption, start, filters):
        self.offered.append(start)
        return self.save_path

    def get_open_path(self, parent, caption, start, filters):
        return self.open_path

    def errors(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] == messages.ERROR]


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()
    monkeypatch.setattr(messages, "message", d.message)
    monkeypatch.setattr(messages, "get_save_path", d.get_save_path)
    monkeypatch.setattr(messages, "get_open_path", d.get_open_path)
    monkeypatch.setattr(messages, "get_folder", lambda *a: "")
    return d



@pytest.fixture
def window(qtbot, dialogs, settings):
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1100, 760)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.inpainter is not None, timeout=60000)
    yield win
    win.modified = False  # no "save changes?" on teardown
    win.removal.shutdown()


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(make_photo()).save(path)
    return path


def vp(view, x: float, y: float):
    return view.mapFromScene(QPointF(x, y))


def stroke(qtbot, view, points, button=Qt.MouseButton.LeftButton):
    port = view.viewport()
    qtbot.mousePress(port, button, pos=vp(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(port, vp(view, *p))
    qtbot.mouseRelease(port, button, pos=vp(view, *points[-1]))


def remove_and_wait(qtbot, win):
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)


# ------------------------------------------------------------------ painting
def test_brush_strokes_land_under_the_cursor_at_two_zooms(qtbot, window, photo_file):
    win = window
    assert win.open_photo(photo_file)
    view = win.canvas
    assert win.mask_model.shape == (200, 300)

    view.set_zoom(1.0)
    view.centerOn(150, 100)
    view.set_brush_size(10)
    stroke(qtbot, view, [(60, 50), (90, 50), (120, 50)])
    m = win.mask_model.mask
    assert m[50, 62:118].all(), "pixels under the stroke are painted"
    assert m[50, 58:122].sum() >= 56
    assert not m[40:42].any() and not m[60:].any(), "nothing painted away from the stroke"
    assert not m[:, :52].any() and not m[:, 128:].any()

    view.set_zoom(4.0)
    view.centerOn(200, 150)
    stroke(qtbot, view, [(195, 150), (205, 150)])  # 10 px brush at 400 %
    m = win.mask_model.mask
    assert m[150, 195:206].all()
    assert m[147:154, 200].all()
    assert not m[140, 200] and not m[160, 200] and not m[150, 188] and not m[150, 212]
    assert m.sum() < 56 * 11 + 20 * 11 + 200, "only the two strokes are painted"

    # right button erases, whatever the tool
    stroke(qtbot, view, [(200, 150)], button=Qt.MouseButton.RightButton)
    assert not win.mask_model.mask[150, 200]
    assert win.mask_model.mask[150, 193]  # outside the 10 px eraser disc

    # rectangle and lasso tools fill what they enclose
    view.set_zoom(1.0)
    view.centerOn(150, 100)
    win.set_tool(Tool.RECT)
    stroke(qtbot, view, [(20, 120), (40, 160)])
    m = win.mask_model.mask
    assert m[125:155, 25:35].all() and not m[170, 30] and not m[130, 50]
    win.set_tool(Tool.LASSO)
    stroke(qtbot, view, [(250, 120), (290, 120), (290, 180), (250, 180)])
    m = win.mask_model.mask
    assert m[130:170, 255:285].all() and not m[110, 270] and not m[150, 240]


def test_brush_size_keys_and_cursor_outline_follow_zoom(qtbot, window, photo_file):
    win = window
    win.open_photo(photo_file)
    view = win.canvas
    view.set_brush_size(20)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert view.brush_size > 20 and win.dock.size_spin.value() == view.brush_size
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert view.brush_size < 20
    view.set_brush_size(30)
    view.set_zoom(2.0)
    qtbot.mouseMove(view.viewport(), vp(view, 100, 100))
    outline = view._brush_outer
    assert outline.isVisible()
    assert outline.rect().width() == pytest.approx(30)  # scene units = image pixels at any zoom
    on_screen = view.mapFromScene(outline.rect()).boundingRect().width()
    assert on_screen == pytest.approx(60, abs=3)


def test_undo_redo_restores_exact_masks(qtbot, window, photo_file):
    win = window
    win.open_photo(photo_file)
    view, model = win.canvas, win.mask_model
    view.set_zoom(1.0)
    view.set_brush_size(14)
    states = [model.mask.copy()]
    stroke(qtbot, view, [(40, 40), (100, 70), (160, 40)])
    states.append(model.mask.copy())
    stroke(qtbot, view, [(60, 120), (200, 130)])
    states.append(model.mask.copy())
    model.grow(4)
    states.append(model.mask.copy())
    model.fill_rect(230, 20, 280, 60, 1)
    states.append(model.mask.copy())
    model.invert()
    states.append(model.mask.copy())
    stroke(qtbot, view, [(150, 100), (170, 110)], button=Qt.MouseButton.RightButton)
    states.append(model.mask.copy())
    assert model.stack.count() == len(states) - 1
    assert all(not np.array_equal(a, b) for a, b in zip(states, states[1:]))

    for i in range(len(states) - 1, 0, -1):
        qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert np.array_equal(model.mask, states[i - 1]), f"undo to state {i - 1}"
    for i in range(1, len(states)):
        qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert np.array_equal(model.mask, states[i]), f"redo to state {i}"


def test_history_stores_only_changed_patches():
    model = MaskModel()
    model.set_blank(4000, 6000)  # 24 MP
    model.begin_stroke()
    model.stroke_segment((100, 100), (300, 120), 20, 1)
    model.end_stroke()
    cmd = model.stack.command(0)
    x0, y0, x1, y1 = cmd.box
    assert (x1 - x0) <= 242 and (y1 - y0) <= 62, "the patch is the stroke's bounding box"
    assert model.history_bytes() < 10_000
    model.invert()  # a whole-image change: bit-packed, 2 x 3 MB
    assert model.history_bytes() < 7_000_000
    model.stack.undo()
    model.stack.undo()
    assert not model.mask.any()


# -------------------------------------------------------------------- remove
def test_remove_shows_three_views_and_accept_repeats(qtbot, window, photo_file, dialogs):
    win = window
    win.open_photo(photo_file)
    original = win.image.copy()
    win.mask_model.fill_rect(145, 60, 185, 110, 1)
    hole = win.mask_model.hole()
    remove_and_wait(qtbot, win)

    shown = win.result_view.shown()
    assert {"input", "coarse", "refined"} <= set(shown)
    assert np.array_equal(shown["input"], original)
    refined, coarse = shown["refined"], shown["coarse"]
    assert refined.shape == original.shape == coarse.shape
    assert np.array_equal(refined[~hole], original[~hole]), "unmasked pixels are untouched"
    assert not np.array_equal(refined[hole], original[hole]), "the hole was filled"

    # synchronised zoom/pan across the three views
    views = win.result_view.views
    views[0].set_zoom(3.0)
    views[0].horizontalScrollBar().setValue(views[0].horizontalScrollBar().maximum() // 2)
    for v in views[1:]:
        assert v.zoom() == pytest.approx(3.0)
        assert v.horizontalScrollBar().value() == views[0].horizontalScrollBar().value()

    # heatmap option and before/after flick
    win.result_view.heatmap.setChecked(True)
    assert not np.array_equal(win.result_view.shown()["refined"], refined)
    win.result_view.heatmap.setChecked(False)
    win.result_view.flick.setChecked(True)
    assert set(win.result_view.shown()) == {"refined"}
    win.result_view.show_before.setChecked(True)
    assert np.array_equal(win.result_view.shown()["refined"], original)
    win.result_view.show_before.setChecked(False)
    assert np.array_equal(win.result_view.shown()["refined"], refined)
    win.result_view.side_by_side.setChecked(True)

    # accept (Enter) -> new working image, empty mask, keep removing
    qtbot.keyClick(win.result_view, Qt.Key.Key_Return)
    assert win.stack.currentIndex() == PAGE_EDIT
    assert np.array_equal(win.image, refined)
    assert win.mask_model.is_empty() and win.modified
    win.mask_model.fill_rect(20, 20, 50, 50, 1)
    hole2 = win.mask_model.hole()
    remove_and_wait(qtbot, win)
    second = win.result_view.shown()
    assert np.array_equal(second["input"], refined)
    assert np.array_equal(second["refined"][~hole2], refined[~hole2])
    win.accept_result("coarse")
    assert np.array_equal(win.image, second["coarse"])

    dialogs.answers["Revert"] = Button.Yes
    win.revert()
    assert np.array_equal(win.image, original)
    assert not dialogs.errors()


def test_event_loop_keeps_running_during_remove_and_cancel(qtbot, window, photo_file):
    win = window
    win.open_photo(photo_file)
    real = win.inpainter

    class Slow:
        """The real model, but slow and cancellable (like many regions on a big photo)."""
        device = real.device
        weights_path = real.weights_path

        def __call__(self, image, hole, should_stop=None, progress=None):
            from model.inference import Cancelled
            for _ in range(40):
                if should_stop and should_stop():
                    raise Cancelled()
                time.sleep(0.02)
            return real(image, hole, should_stop=should_stop, progress=progress)

    win.inpainter = Slow()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    win.mask_model.fill_rect(100, 100, 140, 140, 1)
    win.remove()
    assert win.is_busy() and win.busy.isVisible()
    assert not win.acts.remove.isEnabled() and not win.canvas.editing_enabled
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
    timer.stop()
    assert len(ticks) >= 15, f"the GUI thread was blocked ({len(ticks)} timer ticks)"
    gaps = np.diff(ticks)
    assert gaps.max() < 0.5

    # cancel: back to editing, mask intact, no result
    win.back_to_edit()
    mask_before = win.mask_model.mask.copy()
    win.remove()
    qtbot.wait(50)
    win.acts.cancel.trigger()
    qtbot.waitUntil(lambda: not win.is_busy(), timeout=10000)
    assert win.stack.currentIndex() == PAGE_EDIT
    assert np.array_equal(win.mask_model.mask, mask_before)
    assert win.acts.remove.isEnabled()


# ---------------------------------------------------------------- files
def test_save_keeps_format_and_orientation_and_never_overwrites(qtbot, window, tmp_path, dialogs):
    win = window
    stored = make_photo(160, 240)  # stored landscape; EXIF 6 = rotate 90° clockwise to view
    src = tmp_path / "holiday.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(src, "JPEG", quality=92, exif=exif.tobytes())
    original_bytes = src.read_bytes()

    assert win.open_photo(src)
    assert win.image.shape == (240, 160, 3), "EXIF orientation applied"
    win.mask_model.fill_rect(40, 60, 90, 120, 1)
    remove_and_wait(qtbot, win)
    win.accept_result("refined")

    # Save the first time = Save As, offering name_cleaned.ext; picking the original asks first
    dialogs.save_path = str(src)
    dialogs.answers["Overwrite"] = Button.No
    assert not win.save()
    assert dialogs.offered[-1] == str(tmp_path / "holiday_cleaned.jpg")
    assert any("Overwrite" in c[1] for c in dialogs.calls)
    assert src.read_bytes() == original_bytes, "the original is never silently overwritten"

    out = tmp_path / "holiday_cleaned.jpg"
    dialogs.save_path = str(out)
    assert win.save()
    with Image.open(out) as im:
        assert im.format == "JPEG"
        assert im.getexif().get(0x0112, 1) == 1, "pixels are upright, so the orientation tag is reset"
    back = read_image(out)
    assert back.shape == win.image.shape, "reads back the same way up"
    assert np.abs(back.astype(int) - win.image.astype(int)).mean() < 6
    assert not win.modified

    # a second Save goes to the same file without asking
    n_calls = len(dialogs.offered)
    win.mask_model.fill_rect(10, 10, 30, 30, 1)
    remove_and_wait(qtbot, win)
    win.accept_result("refined")
    assert win.save() and len(dialogs.offered) == n_calls
    assert src.read_bytes() == original_bytes
    assert not dialogs.errors()


def test_mask_export_import_and_clear_errors(qtbot, window, photo_file, tmp_path, dialogs):
    win = window
    win.open_photo(photo_file)
    win.mask_model.fill_rect(10, 20, 60, 80, 1)
    expected = win.mask_model.mask.astype(bool).copy()
    dialogs.save_path = str(tmp_path / "m.png")
    win.export_mask()
    assert np.array_equal(read_mask(tmp_path / "m.png"), expected)
    win.mask_model.clear()
    assert win.import_mask(tmp_path / "m.png")
    assert np.array_equal(win.mask_model.mask.astype(bool), expected)
    win.mask_model.stack.undo()
    assert win.mask_model.is_empty()

    # a mask of the wrong size: a clear error naming both sizes; mask unchanged
    write_mask(tmp_path / "small.png", np.ones((50, 50), bool))
    assert not win.import_mask(tmp_path / "small.png")
    kind, title, text = dialogs.errors()[-1]
    assert "small.png" in text and "50 × 50" in text and "300 × 200" in text
    assert win.mask_model.is_empty()

    # an unreadable photo: an error naming the file; the open photo stays
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert not win.open_photo(bad)
    assert "broken.jpg" in dialogs.errors()[-1][2]
    assert win.path == photo_file


def test_status_bar_recent_files_and_missing_weights(qtbot, dialogs, settings, tmp_path, photo_file):
    settings.weights = str(tmp_path / "nope.pt")
    win = MainWindow(settings)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.status_model.text() == "no model", timeout=60000)
    kind, title, text = dialogs.errors()[-1]
    assert "nope.pt" in text and "weights" in title.lower()

    settings.weights = ""
    win.load_model()
    qtbot.waitUntil(lambda: win.inpainter is not None, timeout=60000)
    assert win.status_model.text() == "cpu · default.pt"
    win.open_photo(photo_file)
    assert settings.recent_files()[0] == str(photo_file.resolve())
    win._fill_recent_menu()
    assert any(a.text() == str(photo_file.resolve()) for a in win.recent_menu.actions())


def test_remove_before_model_is_loaded_waits_for_it(qtbot, dialogs, settings, photo_file):
    win = MainWindow(settings, load_model=False)
    qtbot.addWidget(win)
    win.show()
    win.open_photo(photo_file)
    win.mask_model.fill_rect(100, 100, 130, 130, 1)
    win.remove()  # starts loading, then removes
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
    assert win.status_model.text().startswith("cpu")


def test_large_photo_is_drawn_from_reduced_levels(qtbot, window):
    """A 24 MP photo zoomed to fit is drawn from a reduced pyramid level, so
    repaints and strokes stay quick; the full resolution stays for processing."""
    win = window
    big = np.zeros((4000, 6000, 3), np.uint8)
    big[..., 2] = 200
    win.image = win.original = big
    win.mask_model.set_blank(4000, 6000)
    win.canvas.set_image(big)
    win.stack.setCurrentIndex(PAGE_EDIT)
    win._update_actions()
    view = win.canvas
    assert view.zoom() < 0.25
    t0 = time.perf_counter()
    view.viewport().grab()
    first = time.perf_counter() - t0
    assert max(view.image_item._levels) >= 2, "zoomed out: drawn from a 4x+ reduced copy"
    view.set_brush_size(200)
    t0 = time.perf_counter()
    stroke(qtbot, view, [(1000, 1000), (3000, 2000), (5000, 1000)])
    view.viewport().grab()
    paint = time.perf_counter() - t0
    assert win.mask_model.mask[2000, 3000] and win.mask_model.mask.shape == (4000, 6000)
    assert first < 3.0 and paint < 3.0, (first, paint)
    assert win.mask_model.history_bytes() < 2_000_000, "the stroke box, bit-packed (a full copy is 48 MB)"


# ------------------------------------------------------- accept is undoable
def ctrl_z(qtbot, win, shift: bool = False) -> None:
    mods = Qt.KeyboardModifier.ControlModifier
    if shift:
        mods |= Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, mods)


def test_accept_is_one_undoable_step_among_the_strokes(qtbot, window, photo_file):
    win = window
    win.open_photo(photo_file)
    view, model = win.canvas, win.mask_model
    view.set_zoom(1.0)
    view.centerOn(150, 100)
    view.set_brush_size(12)
    opened = win.image.copy()
    stroke(qtbot, view, [(150, 70), (170, 80)])
    after_first_stroke = model.mask.copy()
    stroke(qtbot, view, [(155, 95), (175, 95)])
    painted = model.mask.copy()
    remove_and_wait(qtbot, win)
    refined = win.result_view.shown()["refined"].copy()

    qtbot.keyClick(win.result_view, Qt.Key.Key_Return)  # accept refined
    assert win.stack.currentIndex() == PAGE_EDIT
    assert np.array_equal(win.image, refined) and not np.array_equal(win.image, opened)
    assert model.is_empty() and win.modified and " *" in win.windowTitle()
    assert model.stack.count() == 3, "two strokes, then the accept: the history is kept"
    assert win.acts.undo.isEnabled() and win.acts.revert.isEnabled()

    ctrl_z(qtbot, win)  # undo the accept
    assert win.image.dtype == opened.dtype and np.array_equal(win.image, opened), "bit-identical"
    assert np.array_equal(model.mask, painted), "the mask is back, ready to remove again"
    assert np.array_equal(win.canvas.image_item.image(), opened), "and on screen"
    assert not win.modified and " *" not in win.windowTitle()
    assert not win.acts.revert.isEnabled() and win.acts.remove.isEnabled()

    ctrl_z(qtbot, win, shift=True)  # redo the accept
    assert np.array_equal(win.image, refined) and model.is_empty() and win.modified
    assert np.array_equal(win.canvas.image_item.image(), refined)

    # undo past the accept, into the strokes, and all the way forward again
    ctrl_z(qtbot, win)
    ctrl_z(qtbot, win)
    assert np.array_equal(model.mask, after_first_stroke) and np.array_equal(win.image, opened)
    ctrl_z(qtbot, win)
    assert model.is_empty() and not win.acts.undo.isEnabled()
    for _ in range(3):
        ctrl_z(qtbot, win, shift=True)
    assert np.array_equal(win.image, refined) and model.is_empty()

    # a second accept on top; undoing both walks back through each photo exactly
    model.fill_rect(20, 20, 50, 50, 1)
    remove_and_wait(qtbot, win)
    second = win.result_view.shown()["refined"].copy()
    win.accept_result("refined")
    assert np.array_equal(win.image, second)
    ctrl_z(qtbot, win)
    assert np.array_equal(win.image, refined) and model.mask[20:50, 20:50].all()
    ctrl_z(qtbot, win)  # the rectangle
    ctrl_z(qtbot, win)  # the first accept
    assert np.array_equal(win.image, opened) and np.array_equal(model.mask, painted)

    # a new stroke drops the undone accepts from the redo history, as for any step
    stroke(qtbot, view, [(40, 150), (60, 150)])
    assert not win.acts.redo.isEnabled() and np.array_equal(win.image, opened)


def test_accept_stores_only_the_changed_patch(qtbot, window, photo_file):
    from inpaint_gui.accept_command import AcceptCommand
    from inpaint_gui.mask_model import BitPatch, diff_box

    win = window
    win.open_photo(photo_file)
    before = win.image.copy()
    win.mask_model.fill_rect(145, 60, 185, 110, 1)
    mask_box = diff_box(win.mask_model.mask, np.zeros_like(win.mask_model.mask))
    remove_and_wait(qtbot, win)
    refined = win.result_view.shown()["refined"].copy()
    win.accept_result("refined")

    cmd = win.mask_model.stack.command(win.mask_model.stack.index() - 1)
    assert isinstance(cmd, AcceptCommand)
    x0, y0, x1, y1 = diff_box(before, refined)
    changed_area = (x1 - x0) * (y1 - y0)
    assert changed_area < before.shape[0] * before.shape[1] // 4, "the fill is local"
    assert cmd.photo_box == (x0, y0, x1, y1)
    assert cmd.photo_before.shape == cmd.photo_after.shape == (y1 - y0, x1 - x0, 3)
    assert np.array_equal(cmd.photo_before, before[y0:y1, x0:x1])
    assert np.array_equal(cmd.photo_after, refined[y0:y1, x0:x1])
    mx0, my0, mx1, my1 = mask_box
    assert cmd.mask_box == mask_box and cmd.mask_before.shape == (my1 - my0, mx1 - mx0)
    # nothing the command keeps is larger than the changed box: no whole images
    for name, value in vars(cmd).items():
        if isinstance(value, np.ndarray):
            assert value.size <= changed_area * 3, name
            assert value.base is None or value.base.size <= changed_area * 3, f"{name} is a view of a whole image"
        elif isinstance(value, BitPatch):
            assert value.bits.size <= changed_area // 8 + 1, name
    assert cmd.nbytes <= 2 * changed_area * 3 + changed_area // 8 + 1
    assert win.mask_model.history_bytes() < before.nbytes // 2


def test_save_and_revert_follow_undone_accepts(qtbot, window, photo_file, tmp_path, dialogs):
    win = window
    win.open_photo(photo_file)
    opened = win.image.copy()
    win.mask_model.fill_rect(145, 60, 185, 110, 1)
    remove_and_wait(qtbot, win)
    win.accept_result("refined")
    accepted = win.image.copy()

    out = tmp_path / "photo_cleaned.png"
    dialogs.save_path = str(out)
    assert win.save() and not win.modified
    assert np.array_equal(read_image(out), accepted)

    win.mask_model.stack.undo()  # the photo now differs from the saved file
    assert np.array_equal(win.image, opened) and win.modified
    assert win.save() and not win.modified
    assert np.array_equal(read_image(out), opened), "saving after undo saves the restored photo"
    win.mask_model.stack.redo()
    assert np.array_equal(win.image, accepted) and win.modified

    dialogs.answers["Revert"] = Button.Yes
    win.revert()
    assert np.array_equal(win.image, opened) and win.mask_model.is_empty()
    assert not win.modified, "the saved file holds the original's pixels"
    assert not win.acts.revert.isEnabled()
    assert not dialogs.errors()


def test_texture_setting_reloads_the_model_without_the_texture_step(qtbot, window, settings, monkeypatch):
    from PySide6.QtCore import QSettings

    from inpaint_gui.dialogs.settings import SettingsDialog
    from inpaint_gui.settings import Settings

    assert window.inpainter.texture  # on by default
    first = window.inpainter

    def untick_and_accept(dialog):
        dialog.texture.setChecked(False)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", untick_and_accept)
    window.open_settings()
    qtbot.waitUntil(lambda: window.inpainter is not None and window.inpainter is not first, timeout=60000)
    assert window.inpainter.texture is False
    # stored in the ini file as text, read back as a bool
    again = Settings(QSettings(settings.q.fileName(), QSettings.Format.IniFormat))
    assert again.texture is False


def test_settings_choose_a_classical_fill_by_name(qtbot, window, settings, photo_file, monkeypatch):
    """Settings' fill method: Telea gives one result (no coarse pane, no Accept coarse), kept in the settings."""
    from PySide6.QtCore import QSettings

    from inpaint_gui.dialogs.settings import SettingsDialog
    from inpaint_gui.settings import Settings
    from model.fill.classical import classical_fill

    assert settings.method == "network" and window.inpainter.name == "network"  # the default

    def choose_telea(dialog):
        dialog.method.setCurrentIndex(dialog.method.findData("telea"))
        assert not dialog.texture.isEnabled() and not dialog.weights.isEnabled()  # the network's settings
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", choose_telea)
    window.open_settings()
    qtbot.waitUntil(lambda: window.inpainter is not None and window.inpainter.name == "telea", timeout=60000)
    assert Settings(QSettings(settings.q.fileName(), QSettings.Format.IniFormat)).method == "telea"
    assert "Telea" in window.status_model.text()
    window.open_photo(photo_file)
    original = window.image.copy()
    window.mask_model.fill_rect(145, 60, 185, 110, 1)
    hole = window.mask_model.hole()
    remove_and_wait(qtbot, window)
    shown = window.result_view.shown()
    assert "coarse" not in shown and not window.acts.accept_coarse.isEnabled()
    telea = classical_fill(original, hole, "telea")
    assert np.array_equal(shown["refined"], telea)
    window.accept_result("coarse")  # nothing to accept: the result page stays
    assert window.stack.currentIndex() == PAGE_RESULT
    window.accept_result("refined")
    assert window.stack.currentIndex() == PAGE_EDIT and np.array_equal(window.image, telea)
