"""Hostile inputs (issue #11): the batch and training never touch a file they
were not asked to write, never follow a symlink out of the input, never hang
on a special file, and answer every mistake with one clear line.

One test (or a few) per numbered case of the issue; all on small generated
files in tmp_path, with a fake model where the network does not matter."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import model.jobs.lock as output_lock
from conftest import smooth_photo
from model.jobs.batch import run_batch
from model.jobs.errors import BatchError
from model.jobs.manifest import MANIFEST_NAME
from model.jobs.options import BatchOptions
from model.fill.base import Filler, FillResult
from model.jobs.validation import validate_options
from model.cli import main
from model.photos.imageio import ImageReadError, read_mask, read_photo
from model.masks import hole_from_user_mask
from model.photos.atomic import TEMP_SUFFIX


class FakeInpainter(Filler):
    """Inverts the masked pixels (fast, deterministic)."""

    def __init__(self, gate: threading.Event | None = None, started: threading.Event | None = None):
        self.calls = 0
        self.gate, self.started = gate, started

    def __call__(self, image, mask, should_stop=None, progress=None):
        if self.started is not None:
            self.started.set()
        if self.gate is not None:
            assert self.gate.wait(60)
        self.calls += 1
        hole = np.asarray(mask) != 0
        out = image.copy()
        out[hole] = 255 - image[hole]
        return FillResult({"refined": out, "coarse": out})


def save(path: Path, image: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, **kw)
    return path


def box_mask(h: int = 40, w: int = 50) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[h - 12:h - 4, w - 20:w - 4] = 255
    return m


def hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def shop(tmp_path):
    """photos/ (a.png, b.jpg), masks/ (a.png, b.png) and mask.png."""
    src = tmp_path / "photos"
    save(src / "a.png", smooth_photo(40, 50, seed=1))
    save(src / "b.jpg", smooth_photo(40, 50, seed=2), quality=90)
    save(tmp_path / "masks" / "a.png", box_mask())
    save(tmp_path / "masks" / "b.png", box_mask())
    save(tmp_path / "mask.png", box_mask())
    return SimpleNamespace(src=src, masks=tmp_path / "masks", mask=tmp_path / "mask.png", base=tmp_path)


@pytest.fixture
def fake_model(monkeypatch):
    """The CLI's model loader (batch and remove) returns a FakeInpainter and counts the loads."""
    loads = []

    def open_inpainter(args):
        loads.append(args)
        return FakeInpainter()

    # both commands that load a model: a test asserting ``not fake_model`` then
    # fails if the command got as far as loading one, whichever it is
    monkeypatch.setattr("model.cli.batch.open_inpainter", open_inpainter)
    monkeypatch.setattr("model.cli.remove.open_inpainter", open_inpainter)
    return loads


def cli(capsys, *args) -> tuple[int, str]:
    """Run main.py in-process; (exit code, stderr). A traceback fails the test."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def run_within(fn, seconds: float, fifos: list[Path] = ()):
    """fn() on a thread; if it is still running after ``seconds`` (blocked on a
    FIFO), open the FIFOs for writing to unblock it and fail."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    hung = t.is_alive()
    if hung:
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        t.join(30)
    assert not hung, f"{fn} hung on a special file"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ------------------------------------------- 1. outputs never overwrite an input

def test_1_output_folder_equal_to_the_mask_folder_is_refused(shop, capsys, fake_model):
    before = hashes(shop.masks)
    code, err = cli(capsys, "batch", shop.src, "--masks", shop.masks, "-o", shop.masks)
    assert code == 2 and not fake_model
    assert str(shop.masks) in error_lines(err)[0] and "mask folder" in err
    assert hashes(shop.masks) == before


def test_1_report_onto_the_mask_file_is_refused(shop, capsys, fake_model):
    before = shop.mask.read_bytes()
    code, err = cli(capsys, "batch", shop.src, "--mask", shop.mask, "--report", shop.mask)
    assert code == 2 and not fake_model
    line = error_lines(err)[0]
    assert f"the report {shop.mask} is the mask file {shop.mask}" in line
    assert shop.mask.read_bytes() == before


@pytest.mark.parametrize("case", ["out-contains-photos", "out-contains-mask", "out-inside-masks",
                                  "report-inside-masks", "report-is-a-photo"])
def test_1_any_overlap_of_an_output_with_an_input_is_refused(shop, case):
    options = {
        "out-contains-photos": BatchOptions(shop.src, output_dir=shop.base, mask=shop.mask),
        "out-contains-mask": BatchOptions(shop.src, output_dir=shop.base, masks_dir=shop.masks),
        "out-inside-masks": BatchOptions(shop.src, output_dir=shop.masks / "out", masks_dir=shop.masks),
        "report-inside-masks": BatchOptions(shop.src, masks_dir=shop.masks, report=shop.masks / "r.json"),
        "report-is-a-photo": BatchOptions(shop.src, mask=shop.mask, report=shop.src / "a.png"),
    }[case]
    with pytest.raises(BatchError) as info:
        validate_options(options)
    assert any(str(p) in str(info.value) for p in (shop.src, shop.mask, shop.masks))


def test_1_train_run_folder_inside_the_data_folder_is_refused(shop, capsys):
    before = hashes(shop.src)
    code, err = cli(capsys, "train", shop.src, "--out", shop.src / "run", "--scratch", "--device", "cpu",
                    "--steps", "1", "--lambda-corr", "0", "--lambda-style", "0")
    assert code == 2
    assert "run folder" in error_lines(err)[0] and str(shop.src) in error_lines(err)[0]
    assert hashes(shop.src) == before and not (shop.src / "run").exists()


# ------------------------------- 2. clean-up removes only this tool's temp files

def test_2_output_above_the_input_never_cleans_inside_the_input(shop, capsys, fake_model):
    """-o the input's parent: refused (item 1), and nothing inside the input is removed."""
    theirs = shop.src / ".a.png.1234abcd.inpaint-tmp"
    theirs.write_bytes(b"the user's file")
    code, err = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", shop.base)
    assert code == 2 and theirs.read_bytes() == b"the user's file"


def test_2_clean_up_matches_only_the_dead_runs_token_outside_the_inputs(tmp_path):
    out, inside = tmp_path / "out", tmp_path / "out" / "photos"
    token, other = "0123456789ab", "ba9876543210"
    ours = [out / f".x.jpg.{token}.1234abcd{TEMP_SUFFIX}", out / "sub" / f".y.png.{token}.00ff00ff{TEMP_SUFFIX}"]
    kept = [out / f".x.jpg.{other}.1234abcd{TEMP_SUFFIX}",  # another (live) run's
            out / f"notes{TEMP_SUFFIX}", out / f".x.jpg.1234abcd{TEMP_SUFFIX}",  # not named by this tool's rule
            inside / f".z.jpg.{token}.1234abcd{TEMP_SUFFIX}"]  # inside an input folder
    for p in ours + kept:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    removed = output_lock.remove_stale_temps(out, token, keep_out=(inside,))
    assert sorted(removed) == sorted(ours)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in ours)


# ------------------------------------------ 3. one run per output folder (lock)

def test_3_second_run_into_a_busy_output_folder_is_refused(shop, capsys, fake_model):
    out = shop.base / "out"
    gate, started = threading.Event(), threading.Event()
    first: dict = {}

    def first_run():
        first["summary"] = run_batch(BatchOptions(shop.src, output_dir=out, mask=shop.mask),
                                     FakeInpainter(gate, started))

    t = threading.Thread(target=first_run, daemon=True)
    t.start()
    try:
        assert started.wait(60)
        lock = json.loads((out / output_lock.LOCK_NAME).read_text())
        assert lock["pid"] == os.getpid()
        manifest = (out / MANIFEST_NAME).read_bytes()
        with pytest.raises(BatchError, match=rf"another batch run \(pid {os.getpid()}"):
            run_batch(BatchOptions(shop.src, output_dir=out, mask=shop.mask), FakeInpainter())
        code, err = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", out)
        assert code == 2 and "another batch run" in error_lines(err)[0] and not fake_model
        assert (out / MANIFEST_NAME).read_bytes() == manifest  # the first run's records are intact
    finally:
        gate.set()
        t.join(60)
    summary = first["summary"]
    assert summary.done == 2 and not summary.failed
    assert not (out / output_lock.LOCK_NAME).exists()
    records = (out / MANIFEST_NAME).read_text().splitlines()
    assert len(records) == 3  # the job line and both photos


@pytest.mark.parametrize("kind", ["flock", "pid-only", "no-flock-fs"])
def test_3_a_stale_lock_is_taken_over_and_a_live_one_is_not(shop, monkeypatch, kind):
    posix_lock = kind == "flock"
    if kind == "pid-only":
        monkeypatch.setattr(output_lock, "fcntl", None)  # the Windows path: the pid decides
    elif kind == "no-flock-fs":  # a network share without flock: the pid decides too

        def flock(fd, op):
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

        monkeypatch.setattr(output_lock, "fcntl", SimpleNamespace(flock=flock, LOCK_EX=2, LOCK_NB=4))
    out = shop.base / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / output_lock.LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "token": "0123456789ab"}))
    summary = run_batch(BatchOptions(shop.src, output_dir=out, mask=shop.mask), FakeInpainter())
    assert summary.done == 2 and not (out / output_lock.LOCK_NAME).exists()
    (out / output_lock.LOCK_NAME).write_text('{"pid": "not a pid"')  # torn by a kill: stale too
    assert run_batch(BatchOptions(shop.src, output_dir=out, mask=shop.mask), FakeInpainter()).done == 2
    if not posix_lock:  # a live pid holds it
        (out / output_lock.LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "token": "0123456789ab"}))
        with pytest.raises(BatchError, match="another batch run"):
            run_batch(BatchOptions(shop.src, output_dir=out, mask=shop.mask), FakeInpainter())


# --------------------------------------- 4. symlinks out of the input: not followed

def test_4_symlink_to_a_file_outside_the_input_is_skipped_not_copied(shop, capsys, fake_model):
    secret = save(shop.base / "private" / "secret.png", smooth_photo(40, 50, seed=9))
    (shop.src / "y.png").symlink_to(secret)
    (shop.src / "inner.png").symlink_to(shop.src / "a.png")  # inside the input: fine
    out = shop.base / "out"
    code, err = cli(capsys, "batch", shop.src, "--masks", shop.masks, "-o", out)  # y has no mask: --missing copy
    assert code == 0
    assert not (out / "y.png").exists()
    assert "y.png" in err and "outside" in err
    assert (out / "inner.png").is_file()
    summary = run_batch(BatchOptions(shop.src, output_dir=shop.base / "out2", mask=shop.mask), FakeInpainter())
    assert not (shop.base / "out2" / "y.png").exists()
    skipped = {Path(r.path).name: r.reason for r in summary.records if r.status == "skipped"}
    assert "outside" in skipped["y.png"]


def test_4_mask_symlink_outside_the_mask_folder_is_not_followed(shop):
    (shop.masks / "a.png").unlink()
    (shop.masks / "a.png").symlink_to(shop.mask)  # the mask folder's a.png points outside it
    summary = run_batch(BatchOptions(shop.src, output_dir=shop.base / "out", masks_dir=shop.masks),
                        FakeInpainter())
    records = {Path(r.path).name: r for r in summary.records}
    assert records["a.png"].status == "skipped" and "outside" in records["a.png"].reason
    assert records["b.jpg"].status == "done"


# ----------------------------------------------- 5. special files never hang

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_5_fifo_in_the_input_is_skipped_not_read(shop):
    fifo = shop.src / "f.png"
    os.mkfifo(fifo)
    summary = run_within(lambda: run_batch(BatchOptions(shop.src, output_dir=shop.base / "out",
                                                        mask=shop.mask), FakeInpainter()), 30, [fifo])
    skipped = {Path(r.path).name: r.reason for r in summary.records if r.status == "skipped"}
    assert "FIFO" in skipped["f.png"] and summary.done == 2
    # without a mask for it (--missing copy) it is not copied either
    summary = run_within(lambda: run_batch(BatchOptions(shop.src, output_dir=shop.base / "out2",
                                                        masks_dir=shop.masks), FakeInpainter()), 30, [fifo])
    assert not (shop.base / "out2" / "f.png").exists() and summary.done == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_5_fifo_does_not_hang_watermark_mask(tmp_path):
    from model.jobs.watermark_estimate import watermark_from_folder
    from test_watermark import watermarked

    photos, _ = watermarked(6, 120, 300, False, 0.5, 255.0, 7)
    for i, photo in enumerate(photos):
        save(tmp_path / "in" / f"p{i}.png", photo)
    fifo = tmp_path / "in" / "a.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match="FIFO"):
        run_within(lambda: read_photo(fifo), 10, [fifo])
    result = run_within(lambda: watermark_from_folder(tmp_path / "in", sample=6), 60, [fifo])
    assert any(Path(p).name == "a.png" and "FIFO" in why for p, why in result.skipped)


# ---------------------------------------------------- 6. a symlink loop

def test_6_symlink_loop_fails_that_entry_and_the_run_goes_on(shop):
    (shop.src / "loop.jpg").symlink_to(shop.src / "loop.jpg")
    summary = run_batch(BatchOptions(shop.src, output_dir=shop.base / "out", mask=shop.mask), FakeInpainter())
    assert summary.done == 2
    assert [(Path(p).name, "symlink loop" in why) for p, why in summary.failed] == [("loop.jpg", True)]


# ------------------------------------------------------- 7. train --resume

@pytest.fixture
def train_data(tmp_path):
    for i in range(3):
        save(tmp_path / "data" / f"p{i}.png", smooth_photo(80, 96, seed=i))
    return tmp_path / "data"


TRAIN_ARGS = ("--scratch", "--device", "cpu", "--steps", "2", "--batch-size", "1", "--size", "32",
              "--lambda-corr", "0", "--lambda-style", "0", "--workers", "0")


@pytest.mark.parametrize("damage", ["missing", "truncated", "not-a-checkpoint"])
def test_7_resume_from_a_missing_or_truncated_last_pt_is_one_line(train_data, tmp_path, capsys, damage):
    run = tmp_path / "run"
    run.mkdir()
    last = run / "last.pt"
    if damage != "missing":
        torch.save({"format": "region-inpaint/1", "config": {}, "model": {"w": torch.zeros(1000)},
                    "optimizer": {}, "step": 3, "rng": {}}, last)
        data = last.read_bytes()
        last.write_bytes(data[:len(data) // 2] if damage == "truncated" else b"\0" * 100)
    code, err = cli(capsys, "train", train_data, "--out", run, "--resume", *TRAIN_ARGS)
    assert code == 2
    lines = error_lines(err)
    assert len(lines) == 1 and str(last) in lines[0]
    assert {"missing": "does not exist", "truncated": "truncated",
            "not-a-checkpoint": "not a checkpoint"}[damage] in lines[0]


def _tiny_trainer(opts):
    """A Trainer with a very small network (as in test_trainer)."""
    import model.training.trainer as tr
    from model.network import InpaintNet, get_config

    orig = tr._build_network
    tr._build_network = lambda o, device: (InpaintNet(get_config(o.config, run_size=o.size, width=8,
                                                                 half_res_width=16, full_res_width=8)), "tiny")
    try:
        return tr.Trainer(opts)
    finally:
        tr._build_network = orig


def _train_options(data, run, **kw):
    from model.training.options import TrainOptions

    base = dict(data_dir=data, out_dir=run, steps=2, batch_size=1, size=32, device="cpu", scratch=True,
                val_every=100, checkpoint_every=1, log_every=1, workers=0, lambda_corr=0.0, lambda_style=0.0)
    base.update(kw)
    return TrainOptions(**base)


def test_7_and_14_torn_log_line_and_stale_checkpoint_temps(train_data, tmp_path):
    run = tmp_path / "run"
    _tiny_trainer(_train_options(train_data, run)).run()
    # a power cut: a torn last line in the log; kills during checkpoint writes: temp files
    with open(run / "log.jsonl", "a") as f:
        f.write('{"step": 3, "l1": 0.0')
    stale = [run / ".last.pt.ab12cd_9.tmp", run / ".best.pt.zz99yy88.tmp"]
    kept = [run / "notes.tmp", run / ".last.pt.tmp", run / "previews" / ".last.pt.ab12cd_9.tmp"]
    for p in stale + kept:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * 1000)
    result = _tiny_trainer(_train_options(train_data, run, steps=3, resume=True)).run()
    assert result.steps_done == 3
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 3
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)


def test_7_resume_of_a_run_made_with_another_network_plan_is_one_line(train_data, tmp_path):
    from model.training.trainer import TrainError

    run = tmp_path / "run"
    _tiny_trainer(_train_options(train_data, run, config="paper")).run()
    with pytest.raises(TrainError) as info:
        _tiny_trainer(_train_options(train_data, run, steps=3, resume=True)).run()
    message = str(info.value)
    assert "\n" not in message and str(run / "last.pt") in message and "another network plan" in message


# --------------------------------- 8. output format checked before the model runs

@pytest.mark.parametrize("target", ["x.gif", "x.xyz", "mask.png"])
def test_8_remove_checks_the_output_before_the_model_runs(tmp_path, capsys, fake_model, target):
    photo = save(tmp_path / "in.png", smooth_photo(40, 50, seed=1))
    mask = save(tmp_path / "mask.png", box_mask())
    before = mask.read_bytes()
    code, err = cli(capsys, "remove", photo, "--mask", mask, "-o", tmp_path / target)
    assert code == 2 and not fake_model
    assert len(error_lines(err)) == 1 and target in error_lines(err)[0]
    assert mask.read_bytes() == before
    assert not (tmp_path / target).exists() or target == "mask.png"


def test_8_remove_writes_a_good_output(tmp_path, capsys, fake_model):
    photo = save(tmp_path / "in.png", smooth_photo(40, 50, seed=1))
    mask = save(tmp_path / "mask.png", box_mask())
    code, _ = cli(capsys, "remove", photo, "--mask", mask, "-o", tmp_path / "x.webp")
    assert code == 0 and Image.open(tmp_path / "x.webp").format == "WEBP"


# ------------------------------------------ 9. a mask that leaves too little context

def test_9_mask_over_90_percent_is_refused_everywhere(shop, tmp_path, capsys, fake_model):
    from model.inference import Inpainter
    from model.network import InpaintNet, get_config

    white = save(tmp_path / "white.png", np.full((40, 50), 255, np.uint8))
    inpainter = Inpainter.from_network(InpaintNet(get_config("default", width=8, half_res_width=16,
                                                             full_res_width=8)))
    with pytest.raises(ValueError, match="covers 100%"):
        inpainter(smooth_photo(40, 50), np.ones((40, 50), bool))
    nearly = np.ones((40, 50), bool)
    nearly[:8] = False  # 80 %: allowed
    assert inpainter(smooth_photo(40, 50), nearly).refined.shape == (40, 50, 3)

    code, err = cli(capsys, "batch", shop.src, "--mask", white)
    assert code == 2 and "covers 100%" in error_lines(err)[0] and str(white) in error_lines(err)[0]
    code, err = cli(capsys, "remove", shop.src / "a.png", "--mask", white, "-o", tmp_path / "r.png")
    assert code == 1 and "covers 100%" in error_lines(err)[0] and not fake_model
    # a per-photo mask: that photo fails, the others go on
    save(shop.masks / "a.png", np.full((40, 50), 255, np.uint8))
    summary = run_batch(BatchOptions(shop.src, output_dir=tmp_path / "out", masks_dir=shop.masks),
                        FakeInpainter())
    assert summary.done == 1 and "covers 100%" in summary.failed[0][1]


# ------------------------------------------------ 10. one mask conversion

def test_10_rgba_arrays_and_files_convert_the_same_way(tmp_path):
    box = np.zeros((20, 30), bool)
    box[5:10, 5:20] = True
    opaque = np.zeros((20, 30, 4), np.uint8)
    opaque[..., 3] = 255
    opaque[box, :3] = 255  # an opaque black image with a white box
    strokes = np.zeros((20, 30, 4), np.uint8)
    strokes[box] = (255, 0, 0, 255)  # transparent except the strokes
    la = np.stack([np.where(box, 255, 0), np.full((20, 30), 255)], axis=2).astype(np.uint8)
    for array in (opaque, strokes, la):
        assert np.array_equal(hole_from_user_mask(array), box)
        path = tmp_path / "m.png"
        Image.fromarray(array).save(path)
        assert np.array_equal(read_mask(path), box)
    rgb_blue = np.zeros((20, 30, 3), np.uint8)
    rgb_blue[box] = (0, 0, 1)  # any non-zero channel is a hole, in arrays and files alike
    Image.fromarray(rgb_blue).save(tmp_path / "blue.png")
    assert np.array_equal(hole_from_user_mask(rgb_blue), box)
    assert np.array_equal(read_mask(tmp_path / "blue.png"), box)
    assert np.array_equal(hole_from_user_mask(np.dstack([box, box, box, np.ones_like(box)])), box)
    assert np.array_equal(hole_from_user_mask(np.dstack([box * 0.0, box * 1.0]).astype(np.float32)), box)


# -------------------------------------------------- 11. animated images

@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_11_animated_images_are_refused_not_cut(tmp_path, capsys, fake_model, fmt):
    frames = [Image.fromarray(smooth_photo(40, 50, seed=s)) for s in range(3)]
    suffix = {"PNG": "png", "WEBP": "webp", "GIF": "gif"}[fmt]
    anim = tmp_path / "photos" / f"anim.{suffix}"
    anim.parent.mkdir()
    frames[0].save(anim, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0,
                   **({"lossless": True} if fmt == "WEBP" else {}))
    with pytest.raises(ImageReadError, match="3 frames"):
        read_photo(anim)
    mask = save(tmp_path / "mask.png", box_mask())
    code, err = cli(capsys, "remove", anim, "--mask", mask, "-o", tmp_path / f"out.{'png' if fmt == 'GIF' else suffix}")
    assert code == 1 and "animated" in error_lines(err)[0] and not fake_model
    if fmt != "GIF":  # the batch takes JPEG, PNG, WebP, BMP, TIFF
        summary = run_batch(BatchOptions(anim.parent, output_dir=tmp_path / "out", mask=mask), FakeInpainter())
        assert summary.done == 0 and "animated" in summary.failed[0][1]
        assert not (tmp_path / "out" / anim.name).exists()


def test_11_camera_jpeg_with_an_mpf_preview_is_still_read(tmp_path):
    """A JPEG with an MPF preview opens as 2 frames (MPO): it is a still photo."""
    photo = Image.fromarray(smooth_photo(40, 50, seed=1))
    photo.save(tmp_path / "cam.jpg", "MPO", save_all=True, append_images=[photo.resize((20, 16))])
    assert Image.open(tmp_path / "cam.jpg").n_frames == 2
    assert read_photo(tmp_path / "cam.jpg").rgb.shape == (40, 50, 3)


# ------------------------------------------------------- 12. bad weights files

def _bad_weights(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the message must say)."""
    from model.checkpoint import save_weights
    from model.network import InpaintNet, get_config

    good = tmp_path / "good.pt"
    save_weights(InpaintNet(get_config("default", width=8, half_res_width=16, full_res_width=8)), good)
    data = good.read_bytes()
    files = {}
    (tmp_path / "truncated.pt").write_bytes(data[:len(data) // 2])
    files["truncated"] = (tmp_path / "truncated.pt", "truncated")
    (tmp_path / "text.pt").write_text("not a checkpoint at all\n")
    files["text"] = (tmp_path / "text.pt", "not a checkpoint of this app")
    (tmp_path / "empty.pt").write_bytes(b"")
    files["empty"] = (tmp_path / "empty.pt", "empty file")

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"format": "region-inpaint/1", "x": Payload()}, tmp_path / "code.pt")
    files["code"] = (tmp_path / "code.pt", "contains code objects and was refused")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    files["other"] = (tmp_path / "other.pt", "not a checkpoint of this app")
    ckpt = torch.load(good, weights_only=True)
    ckpt["config"]["width"] = 16  # describes another plan than its tensors
    torch.save(ckpt, tmp_path / "plan.pt")
    files["plan"] = (tmp_path / "plan.pt", "made for another network plan")
    return files


def _one_clean_line(message: str, path: Path, says: str) -> None:
    assert "\n" not in message.strip() and len(message) < 400, message
    assert str(path) in message and says in message, message
    for advice in ("weights_only", "add_safe_globals", "safe_globals", "size mismatch"):
        assert advice not in message, message


def test_12_bad_weights_files_give_one_line_naming_the_file(tmp_path):
    from model.checkpoint import load_network

    for name, (path, says) in _bad_weights(tmp_path).items():
        with pytest.raises(ValueError) as info:
            load_network(path)
        _one_clean_line(str(info.value), path, says)


def test_12_bad_weights_on_the_command_line_exit_2(tmp_path, capsys, monkeypatch):
    files = _bad_weights(tmp_path)
    photo = save(tmp_path / "in.png", smooth_photo(40, 50, seed=1))
    mask = save(tmp_path / "mask.png", box_mask())
    path, says = files["code"]
    code, err = cli(capsys, "remove", photo, "--mask", mask, "--weights", path, "--device", "cpu")
    assert code == 2 and len(error_lines(err)) == 1
    _one_clean_line(error_lines(err)[0], path, says)
    path, says = files["truncated"]
    monkeypatch.setenv("INPAINT_WEIGHTS", str(path))
    code, err = cli(capsys, "remove", photo, "--mask", mask, "--device", "cpu")
    assert code == 2
    _one_clean_line(error_lines(err)[0], path, says)
    monkeypatch.delenv("INPAINT_WEIGHTS")
    data = tmp_path / "data"
    for i in range(2):
        save(data / f"p{i}.png", smooth_photo(64, 64, seed=i))
    for option, (path, says) in (("--init", files["plan"]), ("--vgg-weights", files["code"])):
        args = ["train", data, "--out", tmp_path / "run", "--device", "cpu", "--steps", "1", option, path]
        if option == "--vgg-weights":  # read only by the paper's losses (the default recipe is plain L1)
            args += ["--scratch", "--lambda-style", "1"]
        code, err = cli(capsys, *args)
        assert code == 2, option
        _one_clean_line(error_lines(err)[0], path, says)


# --------------------------------------------- 13. report on a full disk

def test_13_report_on_a_full_disk_prints_the_summary_first(shop, capsys, fake_model, monkeypatch):
    report = shop.base / "reports" / "r.json"
    report.parent.mkdir()
    real_write_text = pathlib.Path.write_text

    def write_text(self, data, *args, **kw):
        if self.name.startswith(f".{report.name}"):  # the report's temp file: the disk fills up
            real_write_text(self, data[:10], *args, **kw)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_text(self, data, *args, **kw)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    code, err = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", shop.base / "out", "--report", report)
    assert code == 1
    summary_at, error_at = err.find("finished: 2 cleaned"), err.find(f"error: cannot write the report {report}")
    assert 0 <= summary_at < error_at, err
    assert "No space left on device" in err
    assert list(report.parent.iterdir()) == []  # no 0-byte or partial temp file left
