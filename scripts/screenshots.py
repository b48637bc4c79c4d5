"""Regenerate docs/screenshots/*.png (a developer tool, kept out of the
installed app), from the repository's root:

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/screenshots.py [PHOTO]

PHOTO defaults to the Kite wallpaper fetched into data/ (``main.py fetch-data``),
then to a generated sky; the batch and fine-tune shots use the other photos
of PHOTO's folder. Paints a mask over the kite, runs Remove, opens the
batch and fine-tune dialogs (a few real training steps on a tiny folder) and
grabs each window.
"""
from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, QSettings
from PySide6.QtWidgets import QApplication, QWidget

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
KITE = ROOT / "data" / "debian-photos" / "plasma-workspace-wallpapers--Kite.jpg"
MAX_BYTES = 400_000


def wait_until(app: QApplication, cond, timeout: float = 300.0) -> None:
    end = time.time() + timeout
    while not cond():
        app.processEvents()
        time.sleep(0.02)
        if time.time() > end:
            raise TimeoutError("screenshot step timed out")


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)


def grab_finished_batch(app: QApplication, dialog, name: str) -> Path:
    """Wait for a batch dialog's run and its review list, then grab it as ``name``."""
    wait_until(app, lambda: not dialog.is_running())
    wait_until(app, lambda: dialog.review_worker is None)
    settle(app, 0.5)
    return save_grab(dialog, name)


def save_grab(widget: QWidget, name: str) -> Path:
    """Grab ``widget``; quantise (and shrink if needed) to stay under 400 KB."""
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buf, "PNG")
    im = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    # full colour (smaller if needed) first: quantising bands the smooth skies
    # (a palette bands the heatmap's colour scale and the photos: smaller full colour comes first)
    for scale, quantise in ((1.0, False), (0.85, False), (0.72, False), (0.6, False), (1.0, True), (0.8, True)):
        size = (round(im.width * scale), round(im.height * scale))
        small = im.resize(size, Image.Resampling.LANCZOS) if scale < 1 else im
        if quantise:
            small = small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
        small.save(path, optimize=True)
        if path.stat().st_size < MAX_BYTES:
            break
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return path


def generated_sky(h: int = 800, w: int = 1280) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([40 + 60 * y / h, 90 + 70 * y / h, 200 + 40 * y / h], axis=2)
    sky += np.random.default_rng(0).normal(0, 2, sky.shape)
    return np.clip(sky, 0, 255).astype(np.uint8)


def main(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication(["screenshots"])
    app.setStyle("Fusion")
    from inpaint_gui import messages
    from inpaint_gui.main_window import MainWindow
    from inpaint_gui.settings import Settings

    # never block on a message box while scripting
    def no(parent, kind, title, text, *a, **k):
        print(f"[{kind}] {title}: {text}", file=sys.stderr)  # what a message box would have said
        return messages.Button.No
    messages.message = no
    tmp = Path(tempfile.mkdtemp(prefix="inpaint-shots-"))
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.device = "cpu"
    settings.brush_size = 36

    photo = Path(argv[0]) if argv else KITE
    photos_dir = photo.parent  # the other wallpapers of the batch and fine-tune shots come from here
    if not photo.is_file():
        photo = tmp / "sky.png"
        Image.fromarray(generated_sky()).save(photo)
    else:  # a 1280 px copy keeps the demo quick on a CPU
        im = Image.open(photo).convert("RGB")
        im.thumbnail((1280, 1280))
        photo = tmp / "kite.jpg"
        im.save(photo, quality=95)

    win = MainWindow(settings)  # at its default size (1280 x 820), as a user first sees it
    win.show()
    wait_until(app, lambda: win.inpainter is not None or win.model_error)
    win.open_photo(photo)
    settle(app)

    # the kite (a filled blob) and its string (brush strokes), in 1280x800 coordinates
    m = win.mask_model
    m.fill_polygon([(820, 236), (920, 258), (906, 280), (836, 334), (818, 300)], 1)
    m.begin_stroke()
    string = [(425, 0), (560, 85), (700, 165), (828, 246)]
    for a, b in zip(string, string[1:]):
        m.stroke_segment(a, b, 7, 1)
    m.end_stroke()
    m.grow(6)
    win.canvas.set_zoom(0.95)
    win.canvas.centerOn(700, 330)
    # show the brush outline where the mouse would be
    from PySide6.QtCore import QPointF
    win.canvas._update_brush_outline(QPointF(960, 420))
    win._update_actions()
    settle(app, 0.8)
    save_grab(win, "editor.png")

    # select object: a box dragged around the kite snaps to its outline
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainterPath

    from inpaint_gui.canvas import Tool
    kept = m.mask.copy()
    m.clear()
    win.set_tool(Tool.SELECT)
    box = [(800, 222), (935, 345)]
    win.select_object(box, 1)
    wait_until(app, lambda: not win.removal.is_selecting())
    preview = QPainterPath()
    preview.addRect(QRectF(800, 222, 135, 123))
    win.canvas._shape_item.setPath(preview)  # the box as it looked while dragging
    win.canvas.set_zoom(1.6)
    win.canvas.centerOn(860, 300)
    settle(app, 0.8)
    save_grab(win, "select.png")
    win.canvas._shape_item.setPath(QPainterPath())
    m.apply(kept | m.mask, "kite string")
    win.set_tool(Tool.BRUSH)
    win.canvas.set_zoom(0.95)
    win.canvas.centerOn(700, 330)

    batch_hole = m.hole()  # the kite and its string: the region the batch shot removes from every photo
    win.remove()
    # the status bar once the model reports its steps (percentage, then the time left)
    wait_until(app, lambda: not win.is_busy() or (win.busy.maximum() == 100 and win.busy.value() > 0))
    save_grab(win, "removing.png") if win.is_busy() else None
    wait_until(app, lambda: win.stack.currentIndex() == 2)
    settle(app, 0.8)  # let the views take the room of the hidden dock first; the result opens on its holes
    rv = win.result_view
    save_grab(win, "result.png")
    rv.heatmap.setChecked(True)
    settle(app, 0.5)
    save_grab(win, "heatmap.png")
    rv.heatmap.setChecked(False)
    win.accept_result("refined")
    settle(app)

    # a 4:3 photo in the default window: the refined pane large, input and coarse beside it
    # (the kite photo cut to 4:3 around the kite, 1600 x 1200; the kite removed)
    win.modified = False
    im = Image.open(photo).convert("RGB")
    left = 100 * im.width // 1280
    im = im.crop((left, 0, left + im.height * 4 // 3, im.height)).resize((1600, 1200), Image.Resampling.LANCZOS)
    four_three = tmp / "kite_4_3.jpg"
    im.save(four_three, quality=95)
    if win.open_photo(four_three):
        f = 1200 / 800
        m.fill_polygon([((x - 100) * f, y * f) for x, y in
                        [(820, 236), (920, 258), (906, 280), (836, 334), (818, 300)]], 1)
        m.grow(8)
        win.remove()
        wait_until(app, lambda: win.stack.currentIndex() == 2)
        settle(app, 0.8)
        save_grab(win, "result_4_3.png")
        win.back_to_edit()

    # batch dialog: a folder of different photos (the same region removed from each), one broken file;
    # the review list shows the least confident results first
    from inpaint_gui.dialogs.batch import BatchDialog
    folder = tmp / "batch"
    folder.mkdir()
    others = sorted(photos_dir.glob("plasma-workspace-wallpapers--*.jpg"))[:7] if photos_dir.is_dir() else []
    for i, src in enumerate(others or [photo] * 4):
        im = Image.open(src).convert("RGB").resize((1280, 800))
        im.save(folder / f"IMG_{1040 + i}.jpg", quality=90)
    (folder / "IMG_1099.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    batch = BatchDialog(win, lambda: win.inpainter, batch_hole, settings)  # at its default size
    batch.input_dir.setText(str(folder))
    batch.output_dir.setText(str(tmp / "batch_out"))
    batch.show()
    batch.start()
    grab_finished_batch(app, batch, "batch.png")
    batch.close()

    # the shared-watermark estimate, shown for approval
    shop = tmp / "shop"
    shop.mkdir()
    import cv2
    for i, src in enumerate((others or [photo] * 6)[:7]):
        im = np.asarray(Image.open(src).convert("RGB").resize((960, 600))).copy()
        layer = im.copy()
        cv2.putText(layer, "SHOP.EXAMPLE", (610, 570), cv2.FONT_HERSHEY_DUPLEX, 1.2, (255, 255, 255), 3, cv2.LINE_AA)
        im = (0.35 * im + 0.65 * layer).astype(np.uint8)
        Image.fromarray(im).save(shop / f"item_{i}.jpg", quality=92)
    wm = BatchDialog(win, lambda: win.inpainter, None, settings)
    wm.input_dir.setText(str(shop))
    wm.show()
    wm.estimate_watermark()
    wait_until(app, lambda: wm.watermark_preview is not None and wm.watermark_preview.isVisible())
    settle(app, 0.5)
    save_grab(wm.watermark_preview, "watermark.png")
    wm.watermark_preview.close()
    wm.close()

    # the same folder restored under its semi-transparent mark: the estimate for approval, then the run
    rs = BatchDialog(win, lambda: win.inpainter, None, settings)
    rs.input_dir.setText(str(shop))
    rs.output_dir.setText(str(tmp / "shop_restored"))
    rs.use_restore.setChecked(True)
    rs.show()
    rs.start()  # without an approved mark this estimates it and shows it first
    wait_until(app, lambda: rs.restore_preview is not None and rs.restore_preview.isVisible())
    settle(app, 0.5)
    save_grab(rs.restore_preview, "restore_preview.png")
    rs.restore_preview.restore_button.click()
    grab_finished_batch(app, rs, "restore.png")
    rs.close()

    # fine-tune dialog: a few real steps on a tiny folder
    from inpaint_gui.dialogs.finetune import FinetuneDialog
    photos = tmp / "train"
    photos.mkdir()
    src = sorted(photos_dir.glob("*.jpg"))[:8] if photos_dir.is_dir() else []
    for i, p in enumerate(src or [photo] * 4):
        im = Image.open(p).convert("RGB")
        im.thumbnail((320, 320))
        im.save(photos / f"{i}.jpg", quality=92)
    ft = FinetuneDialog(win, settings)
    ft.data_dir.setText(str(photos))
    ft.out_dir.setText(str(tmp / "run"))
    ft.steps.setValue(30)
    ft.batch_size.setValue(2)
    ft.size.setValue(128)
    ft.resize(1100, 700)
    ft.show()
    import dataclasses
    real_options = ft.options
    ft.options = lambda: dataclasses.replace(real_options(), val_every=10, log_every=1)  # previews sooner
    ft.start()
    wait_until(app, lambda: ft.last_progress is not None and ft.last_progress.step >= 22, timeout=900)
    settle(app, 0.5)
    save_grab(ft, "finetune.png")
    if ft.preview_path is not None:  # a click on the preview sheet opens it full size
        ft.open_preview()
        settle(app, 0.5)
        save_grab(ft.preview_window, "finetune_sheet.png")
        ft.preview_window.close()
    ft.cancel()
    wait_until(app, lambda: not ft.is_running(), timeout=300)
    win.modified = False
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
