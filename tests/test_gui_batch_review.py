"""The batch dialog's review, as a user meets it: Tools ▸ Batch, Start,
the review list with room for its rows, the mask outlined on each before
thumbnail, and a fresh review for each run."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from inpaint_gui.dialogs.batch import OUTLINE
from model.photos.imageio import write_mask

from test_gui import dialogs  # noqa: F401 - fixture


def rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = image.height(), image.width()
    return np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :3 * w].reshape(h, w, 3)


def outline_pixels(tile: np.ndarray) -> int:
    return int((np.abs(tile.astype(int) - np.array(OUTLINE)).sum(axis=2) < 60).sum())


def test_review_has_room_outlines_the_mask_and_starts_fresh(qtbot, dialogs, settings, tmp_path):
    from inpaint_gui.main_window import MainWindow
    from model.inference import Inpainter
    from test_watermark import random_photo

    rng = np.random.default_rng(5)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        Image.fromarray(random_photo(rng, 240, 320)).save(src / f"p{i}.png")
    line = np.zeros((240, 320), np.uint8)  # a thin diagonal stroke: a power line
    import cv2
    cv2.line(line, (20, 200), (300, 40), 1, 3)
    write_mask(tmp_path / "line.png", line.astype(bool))

    win = MainWindow(settings, load_model=False)
    qtbot.addWidget(win)
    win.inpainter = Inpainter(device="cpu", texture=False)
    win.show()
    win.acts.batch.trigger()
    dialog = win.batch_dialog
    qtbot.waitExposed(dialog)
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(tmp_path / "out1"))
    qtbot.mouseClick(dialog.use_file, Qt.MouseButton.LeftButton)
    dialog.mask_file.setText(str(tmp_path / "line.png"))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=300000)
    assert dialog.review.count() == 6
    qtbot.waitUntil(lambda: dialog.review_worker is None, timeout=60000)

    # room: at least 5 rows at the dialog's own size
    row = dialog.review.visualItemRect(dialog.review.item(0)).height()
    rows = dialog.review.viewport().height() / row
    assert rows >= 5, f"the review shows {rows:.1f} rows at {dialog.width()} x {dialog.height()}"

    # the before thumbnail shows the mask's outline; the after one does not
    icon = dialog.review.item(0).icon()
    image = rgb(icon.pixmap(icon.availableSizes()[0]).toImage())
    half = image.shape[1] // 2
    before, after = image[:, :half - 4], image[:, half + 4:]
    assert outline_pixels(before) > 100, "no mask outline on the before thumbnail"
    assert outline_pixels(after) < 0.1 * outline_pixels(before)

    # a second run starts with an empty review
    dialog.output_dir.setText(str(tmp_path / "out2"))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.is_running()
    assert dialog.review.count() == 0, "the last run's review stays during the next run"
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=300000)
    assert dialog.review.count() == 6
    rec = dialog.review.item(0).data(Qt.ItemDataRole.UserRole)
    assert "out2" in rec[0]
    dialog.close()
    win.modified = False
