"""Batch and fine-tune dialogs, headless (pytest-qt), on tiny folders."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import pytestqt  # noqa: E402,F401 - the test extra; missing, this fails (a skip would hide it)

from inpaint_gui import messages  # noqa: E402

Button = messages.Button


def photo(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([80 + 100 * y / h, 120 + 80 * x / w, 200 - 60 * y / h], axis=2)
    img[h // 3:h // 3 + h // 5, w // 3:w // 3 + w // 6] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


class Recorder:
    def __init__(self, answer: Button = Button.No):
        self.calls = []
        self.answer = answer

    def __call__(self, parent, kind, title, text, buttons=Button.Ok, default=Button.NoButton, details=""):
        self.calls.append((kind, title, text))
        return self.answer


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(messages, "message", rec)
    return rec



# --------------------------------------------------------------------- batch
def test_batch_dialog_processes_folder_and_lists_corrupt_file(qtbot, tmp_path, recorder):
    from inpaint_gui.dialogs.batch import BatchDialog
    from model.inference import Inpainter

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(photo(96, 128, i)).save(src / f"p{i}.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    hole = np.zeros((96, 128), bool)
    hole[30:60, 40:80] = True
    out = tmp_path / "out"

    inpainter = Inpainter(device="cpu")
    dialog = BatchDialog(None, lambda: inpainter, hole)
    qtbot.addWidget(dialog)
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(out))
    assert dialog.use_current.isChecked()
    dialog.start()
    assert dialog.is_running()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=120000)

    assert dialog.summary is not None
    assert len(dialog.summary.failed) == 1
    items = [dialog.errors.item(i).text() for i in range(dialog.errors.count())]
    assert len(items) == 1 and "broken.jpg" in items[0]
    written = sorted(p.name for p in out.rglob("*") if p.is_file() and p.suffix == ".png")
    assert [n for n in written if n.startswith("p")] and len([n for n in written if n.startswith("p")]) == 3
    assert not [c for c in recorder.calls if c[0] == messages.ERROR]
    dialog.close()


def test_batch_dialog_rejects_bad_options_with_a_message(qtbot, tmp_path, recorder):
    from inpaint_gui.dialogs.batch import BatchDialog
    dialog = BatchDialog(None, lambda: object(), None)
    qtbot.addWidget(dialog)
    dialog.input_dir.setText(str(tmp_path / "missing"))
    dialog.start()
    assert not dialog.is_running()
    assert recorder.calls and recorder.calls[-1][0] == messages.ERROR


def test_batch_dialog_names_its_own_controls_not_flags(qtbot, tmp_path, recorder):
    """The engine's errors name options by field; the dialog says its controls
    (the command line says its flags: test_option_errors.py)."""
    from inpaint_gui.dialogs.batch import BatchDialog

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(40, 50, 0)).save(src / "same.png")
    Image.fromarray(photo(48, 64, 1)).save(src / "other.png")
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 10:25] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")

    from model.fill.base import Filler, FillResult

    class Inverter(Filler):
        def fill(self, image, hole, should_stop=None, progress=None):
            out = image.copy()
            out[hole] = 255 - out[hole]
            return FillResult({"inverted": out})

    inverter = Inverter()
    dialog = BatchDialog(None, lambda: inverter, None)
    qtbot.addWidget(dialog)
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(tmp_path / "out"))
    dialog.use_file.setChecked(True)  # ... but no file given
    dialog.start()
    assert not dialog.is_running()
    kind, _, text = recorder.calls[-1]
    assert kind == messages.ERROR and "'One mask file'" in text and "'A mask folder'" in text, text
    assert "--" not in text and "masks_dir" not in text, text

    dialog.mask_file.setText(str(tmp_path / "m.png"))  # refuses other.png: another size
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60000)
    items = [dialog.errors.item(i).text() for i in range(dialog.errors.count())]
    assert items == ["other.png: mask is 50x40 but the photo is 64x48 (choose how under 'Mask of another size')"], \
        items
    assert dialog.summary.done == 1
    dialog.close()


# ----------------------------------------------------------------- fine-tune
@pytest.fixture
def tiny_photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(photo(80, 96, 10 + i)).save(folder / f"img{i}.jpg", quality=92)
    return folder


def _finetune_dialog(qtbot, settings, tiny_photos, tmp_path, steps):
    from inpaint_gui.dialogs.finetune import FinetuneDialog
    dialog = FinetuneDialog(None, settings)
    qtbot.addWidget(dialog)
    dialog.data_dir.setText(str(tiny_photos))
    dialog.out_dir.setText(str(tmp_path / "run"))
    dialog.steps.setValue(steps)
    dialog.batch_size.setValue(2)
    dialog.size.setValue(64)
    assert dialog.device.currentData() == "cpu"
    return dialog


def test_finetune_dialog_runs_with_the_measured_recipe(qtbot, settings, tiny_photos, tmp_path, recorder):
    from PySide6.QtWidgets import QLabel

    from model.option import default_of
    from model.training.options import TrainOptions
    recorder.answer = Button.Yes
    dialog = _finetune_dialog(qtbot, settings, tiny_photos, tmp_path, steps=3)
    opts = dialog.options()
    for name in ("lr", "lr_schedule", "lr_min", "lambda_corr", "lambda_style"):  # one recipe: the CLI's defaults
        assert getattr(opts, name) == default_of(TrainOptions, name), name
    assert any(f"learning rate {opts.lr:g}" in label.text() for label in dialog.findChildren(QLabel))
    chosen = []
    dialog.weights_ready.connect(chosen.append)
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=600000)
    result = dialog.result
    assert result is not None and result.steps_done == 3 and not result.stopped
    assert dialog.progress.value() == 3
    assert sum(len(s) for s in dialog.plot.points.values()) >= 3, "the loss curve got points"
    assert dialog.preview_path is not None and not dialog.preview.pixmap().isNull()
    assert dialog.start_psnr is not None and dialog.trained_psnr is not None
    # offered exactly when validation improved over the start, with the gain in the question
    # the weights offered run at the starting weights' settings, not at the 64 px training crops
    from model.checkpoint import read_checkpoint
    from model.paths import resolve_weights
    from model.network import NetConfig
    start_cfg = NetConfig.from_dict(read_checkpoint(resolve_weights(None))["config"]).to_dict()  # may say train_size
    app_cfg = read_checkpoint(result.app_path)["config"]
    assert read_checkpoint(result.best_path)["config"]["run_size"] == 64
    assert app_cfg["run_size"] == start_cfg["run_size"] and app_cfg["run_scales"] == start_cfg["run_scales"]
    gain = dialog.gain_db()
    if gain >= 0.01:
        assert chosen == [str(result.app_path)]
        assert any(f"improved by {gain:.2f} dB" in c[2] for c in recorder.calls)
    else:
        assert chosen == [] and any(c[1] == "Weights unchanged" for c in recorder.calls)
    dialog.plot.grab()  # the plot paints without errors


class FakeTrainer:
    """model.training.trainer.train stand-in: reports validations as given, then returns."""

    def __init__(self, tmp_path, vals, stop_at=None):
        self.tmp_path, self.vals, self.stop_at = tmp_path, vals, stop_at

    def __call__(self, opts, progress=None, should_stop=None):
        from model.training.trainer import TrainProgress, TrainResult
        best = self.tmp_path / "best.pt"
        best.write_bytes(b"weights")
        step = 0
        for step, val in self.vals:
            progress(TrainProgress(step, opts.steps, {"total": 0.05, "l1": 0.05} if step else {}, val_psnr=val))
        return TrainResult(best, self.tmp_path / "last.pt", step, self.stop_at is not None,
                           max(v for _, v in self.vals))


@pytest.mark.parametrize("vals, offered", [
    ([(0, 25.00), (5, 25.31), (10, 25.27)], True),
    ([(0, 25.00), (5, 24.80), (11, 24.95)], False),  # stopped at 11, loss risen: best.pt is the start copy
    ([(0, 25.00), (11, 25.004)], False),  # within noise
])
def test_finetune_offers_the_switch_only_when_validation_improved(qtbot, settings, tiny_photos, tmp_path,
                                                                  recorder, monkeypatch, vals, offered):
    import model.training.trainer
    recorder.answer = Button.Yes
    monkeypatch.setattr(model.training.trainer, "train", FakeTrainer(tmp_path, vals, stop_at=vals[-1][0]))
    dialog = _finetune_dialog(qtbot, settings, tiny_photos, tmp_path, steps=20)
    chosen = []
    dialog.weights_ready.connect(chosen.append)
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=30000)
    titles = [c[1] for c in recorder.calls]
    if offered:
        assert chosen == [str(tmp_path / "best.pt")]
        question = recorder.calls[titles.index("Use the new weights?")][2]
        assert "improved by 0.31 dB" in question and "25.00 → 25.31 dB" in question
    else:
        assert chosen == [] and "Use the new weights?" not in titles
        text = recorder.calls[titles.index("Weights unchanged")][2]
        assert "did not improve" in text and "25.00 →" in text
        assert "best weights" not in dialog.status.text()


def test_finetune_dialog_can_be_cancelled(qtbot, settings, tiny_photos, tmp_path, recorder):
    dialog = _finetune_dialog(qtbot, settings, tiny_photos, tmp_path, steps=5000)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.last_progress is not None and dialog.last_progress.step >= 1, timeout=180000)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=600000)  # a validation runs at the stop
    assert dialog.result.stopped and dialog.result.steps_done < 5000
    assert (tmp_path / "run" / "last.pt").is_file()
    # validated when stopped: the verdict is about the weights at the stop, not the start copy
    import json
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    vals = [r for r in log if "val_psnr" in r]
    assert vals[0]["step"] == 0 and vals[-1]["step"] == dialog.result.steps_done
    assert dialog.trained_psnr == pytest.approx(vals[-1]["val_psnr"])
    offered = any(c[1] == "Use the new weights?" for c in recorder.calls)
    assert offered == (dialog.gain_db() >= 0.01)
    assert dialog.start_button.isEnabled()


def test_batch_dialog_estimates_the_watermark_and_fits_it_to_other_sizes(qtbot, tmp_path, recorder):
    """The user picks a shop folder, presses Estimate, approves the red mask,
    picks 'bottom-right corner' for the photos of another size, and runs."""
    from test_watermark import random_photo, watermark_alpha

    from inpaint_gui.dialogs.batch import BatchDialog
    from model.inference import Inpainter

    rng = np.random.default_rng(5)
    src = tmp_path / "shop"
    src.mkdir()
    truth = watermark_alpha(240, 320, ring=False) > 0.3
    for i, (h, w) in enumerate([(240, 320)] * 8 + [(260, 360)] * 2):
        alpha = watermark_alpha(h, w, ring=False)[..., None] * 0.85
        img = np.clip(random_photo(rng, h, w) * (1 - alpha) + 245 * alpha, 0, 255).astype(np.uint8)
        Image.fromarray(img).save(src / f"item{i:02d}.png")

    inpainter = Inpainter(device="cpu")
    dialog = BatchDialog(None, lambda: inpainter, None)
    qtbot.addWidget(dialog)
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(tmp_path / "out"))
    assert [dialog.mask_fit.itemData(i) for i in range(dialog.mask_fit.count())][:2] == ["error", "stretch"]
    dialog.estimate_button.click()
    qtbot.waitUntil(lambda: dialog.watermark_preview is not None and dialog.watermark_preview.isVisible(),
                    timeout=120000)
    preview = dialog.watermark_preview
    assert not preview.preview.pixmap().isNull()
    preview.use_button.click()  # approve
    assert dialog.use_file.isChecked() and dialog.mask_file.text().endswith("estimated_watermark.png")
    from model.photos.imageio import read_mask
    mask = read_mask(dialog.mask_file.text())
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert mask.shape == (240, 320) and iou > 0.4, iou

    # refused sizes are explained with the dialog's words, not the CLI's option
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=300000)
    items = [dialog.errors.item(i).text() for i in range(dialog.errors.count())]
    assert len(items) == 2 and all("Mask of another size" in t and "--mask-fit" not in t for t in items), items

    dialog.mask_fit.setCurrentIndex(dialog.mask_fit.findData("anchor-bottomright"))
    dialog.output_dir.setText(str(tmp_path / "out2"))
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=300000)
    assert not dialog.summary.failed and dialog.errors.count() == 0
    big = np.asarray(Image.open(tmp_path / "out2" / "item09.png"))
    orig = np.asarray(Image.open(src / "item09.png"))
    assert big.shape == orig.shape
    assert np.array_equal(big[:150], orig[:150]), "away from the bottom-right corner nothing changes"
    assert not np.array_equal(big[-40:, -240:], orig[-40:, -240:]), "the watermark corner was filled"
    dialog.close()


def test_batch_review_lists_worst_first_and_opens_a_result_in_the_editor(qtbot, tmp_path, recorder, settings,
                                                                          monkeypatch):
    """After a batch, the review list shows the least confident results first
    with before/after thumbnails; a click opens that result in the editor."""
    from test_confidence import BreakSome
    from test_watermark import random_photo

    from inpaint_gui.main_window import MainWindow
    from model.inference import Inpainter

    rng = np.random.default_rng(11)
    src = tmp_path / "in"
    src.mkdir()
    broken = {}
    for i in range(6):
        img = random_photo(rng, 120, 160)
        img[0, 0] = (i, 0, 0)
        if i == 4:
            broken[int(img[0, 0].sum())] = (20, 200, 40)
        Image.fromarray(img).save(src / f"p{i}.png")
    hole = np.zeros((120, 160), bool)
    hole[40:80, 50:110] = True

    win = MainWindow(settings, load_model=False)
    qtbot.addWidget(win)
    win.inpainter = BreakSome(Inpainter(device="cpu"), broken)
    win.show()
    win.open_batch()
    dialog = win.batch_dialog
    dialog._current_mask = hole
    dialog.use_current.setEnabled(True)
    dialog.use_current.setChecked(True)
    dialog.input_dir.setText(str(src))
    dialog.output_dir.setText(str(tmp_path / "out"))
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=300000)
    assert dialog.review.isVisible() and dialog.review.count() == 6
    first = dialog.review.item(0).text()
    assert first.endswith("p4.png"), [dialog.review.item(i).text() for i in range(6)]
    scores = [float(dialog.review.item(i).text().split()[0]) for i in range(6)]
    assert scores == sorted(scores)
    qtbot.waitUntil(lambda: all(not dialog.review.item(i).icon().isNull() for i in range(6)), timeout=60000)
    thumb = dialog.review.item(0).icon().pixmap(QSize_(288, 96)).toImage()
    assert thumb.width() > 100  # before | after side by side

    # a click opens the result in the editor; Save goes over that result, not the original
    rect = dialog.review.visualItemRect(dialog.review.item(0))
    qtbot.mouseClick(dialog.review.viewport(), Qt_.MouseButton.LeftButton, pos=rect.center())
    assert win.path == tmp_path / "out" / "p4.png"
    assert win.save_path == tmp_path / "out" / "p4.png"
    assert np.array_equal(win.image, np.asarray(Image.open(tmp_path / "out" / "p4.png").convert("RGB")))
    dialog.close()
    win.modified = False


from PySide6.QtCore import QSize as QSize_, Qt as Qt_  # noqa: E402
