"""Issue #13 in the app: the batch dialog restores a folder's shared
semi-transparent watermark: estimate it, show it for approval, run
(headless, pytest-qt, on real photos)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from benchmarks.watermark import blend, make_mark, psnr, real_photos  # noqa: E402
from inpaint_gui import messages  # noqa: E402
from inpaint_gui.dialogs.batch import BatchDialog  # noqa: E402
from model.photos.imageio import read_image  # noqa: E402
from model.jobs.watermark_model import describe, NO_MARK  # noqa: E402
from model.jobs.watermark_restore import WATERMARK_DIR  # noqa: E402

from test_gui_dialogs import Recorder  # noqa: E402

SIZE = (320, 240)  # w, h
COUNT = 8


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(messages, "message", rec)
    return rec


@pytest.fixture(scope="module")
def inpainter():
    from model.inference import Inpainter
    return Inpainter(device="cpu")


def write_folder(folder, marked: bool, count: int = COUNT):
    """``count`` real photos (the evaluation photos that ship with scikit-image
    etc.), the benchmark's mark (white text, a black ring, a blue disc;
    opacity 0.3-0.6) blended in when ``marked``; JPEG quality 95."""
    folder.mkdir()
    photos = real_photos(count, SIZE)
    alpha, colour = make_mark(SIZE)
    for name, img in photos:
        shown = blend(img, alpha, colour) if marked else img
        Image.fromarray(shown).save(folder / f"{name}.jpg", quality=95)
    return photos, alpha


def test_batch_dialog_estimates_shows_and_restores_a_shared_watermark(qtbot, tmp_path, recorder, inpainter):
    src, out = tmp_path / "shop", tmp_path / "out"
    photos, alpha = write_folder(src, marked=True)
    dialog = BatchDialog(None, lambda: inpainter, None)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(out))
    dialog.use_restore.setChecked(True)
    dialog.sample.setValue(COUNT)

    # Start without an approved mark estimates it first and shows it: nothing runs yet
    dialog.start()
    assert not dialog.is_running()
    qtbot.waitUntil(lambda: dialog.restore_preview is not None and dialog.restore_preview.isVisible(),
                    timeout=120000)
    preview = dialog.restore_preview
    mark = preview.mark
    truth = alpha > 0
    assert np.abs(mark.alpha - alpha)[truth].mean() <= 0.06, "the estimate is the mark blended in"
    assert len(mark.used) == COUNT
    for picture in (preview.opacity, preview.colour, preview.placed):
        assert not picture.pixmap().isNull()
    assert describe(mark) in preview.info.text()
    assert not out.exists(), "nothing is written before the user approves"

    preview.restore_button.click()  # approve: the batch runs with the mark
    assert dialog.is_running()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=300000)
    summary = dialog.summary
    assert summary is not None and summary.done == COUNT and not summary.failed, summary
    assert dialog.errors.count() == 0
    assert not [c for c in recorder.calls if c[0] == messages.ERROR], recorder.calls
    # the CLI's path: the estimate the run used is saved next to the results
    assert (out / WATERMARK_DIR / "watermark_alpha.png").is_file()

    ys, xs = np.nonzero(truth)
    box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    for name, clean in photos:
        marked = read_image(src / f"{name}.jpg")
        restored = read_image(out / f"{name}.jpg")
        assert restored.shape == clean.shape
        before, after = psnr(marked[box], clean[box]), psnr(restored[box], clean[box])
        assert after >= before + 6 and after >= 24, (name, before, after)


def test_a_folder_without_a_shared_mark_says_so(qtbot, tmp_path, recorder, inpainter):
    src, out = tmp_path / "holiday", tmp_path / "out"
    # 20 photos: from 8 unrelated photos the core's estimate may still find a faint
    # "mark" (common structure near the middle); 20 give it a clear answer
    write_folder(src, marked=False, count=20)
    dialog = BatchDialog(None, lambda: inpainter, None)
    qtbot.addWidget(dialog)
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(out))
    dialog.use_restore.setChecked(True)
    dialog.restore_button.click()
    qtbot.waitUntil(lambda: dialog.estimate_worker is None and bool(recorder.calls), timeout=120000)
    kind, title, text = recorder.calls[-1]
    assert kind == messages.INFO and title == "No watermark found" and NO_MARK in text
    assert "Traceback" not in text
    assert dialog.restore_preview is None and dialog.restore_mark is None
    assert not dialog.is_running() and dialog.start_button.isEnabled() and dialog.restore_button.isEnabled()
    assert not out.exists()


def test_estimate_watermark_shows_the_mark_and_its_placement_rule(qtbot, tmp_path, recorder, inpainter):
    """"Estimate watermark" (the mask, repainted) runs the estimate the
    ``watermark-mask`` command runs: on a folder of several sizes, the mark
    scaled to each, the preview names the rule it found, and the approved
    mask covers the mark (the old edge-median estimate used the most common
    size only and missed the blue disc's inside and the thin underline)."""
    from benchmarks.watermark import scaled_mark

    src = tmp_path / "shop"
    src.mkdir()
    sizes = [(480, 360), (360, 480), (450, 300), (300, 450)] * 3
    for i, (size, (name, photo)) in enumerate(zip(sizes, real_photos(len(sizes), (480, 480)))):
        alpha, colour = scaled_mark(size, fraction=0.3, margin=0.04)
        crop = np.ascontiguousarray(photo[:size[1], :size[0]])
        Image.fromarray(blend(crop, alpha, colour)).save(src / f"{i:02d}_{name}.jpg", quality=95)
    dialog = BatchDialog(None, lambda: inpainter, None)
    qtbot.addWidget(dialog)
    dialog.input_dir.setText(str(src))
    dialog.estimate_button.click()
    qtbot.waitUntil(lambda: dialog.estimate_worker is None, timeout=180000)
    assert not recorder.calls, recorder.calls  # the old estimate refused: "need at least 5 photos of the same size"
    preview = dialog.watermark_preview
    assert preview.isVisible() and "bottom-right" in preview.info.text() and "of the width" in preview.info.text()
    assert not preview.preview.pixmap().isNull()
    preview.use_button.click()
    from model.photos.imageio import read_mask

    mask = read_mask(dialog.mask_file.text())
    h, w = mask.shape
    truth = scaled_mark((w, h), fraction=0.3, margin=0.04)[0] > 0
    assert mask.shape == truth.shape and (mask & truth).sum() / truth.sum() >= 0.95
    assert mask.sum() <= 2 * truth.sum()  # 1.8x from these 12 photos (estimation noise beside the underline)
    rule = preview.mark.placement
    assert (rule.anchor, rule.reference) == ("bottom-right", "width") and rule.describe() in preview.info.text()
