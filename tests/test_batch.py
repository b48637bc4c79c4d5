"""Batch cleaning (model/jobs/): bad input, mask fitting, missing masks,
resume after an interruption (should_stop and SIGKILL), the CLI."""
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import model.photos.imageio as imageio
from conftest import smooth_photo
from model.jobs.batch import run_batch
from model.jobs.errors import BatchError
from model.jobs.manifest import MANIFEST_NAME
from model.jobs.mask_fit import fit_mask
from model.jobs.options import BatchOptions
from model.fill.base import Filler, FillResult
from model.jobs.validation import validate_options
from model.photos.atomic import TEMP_SUFFIX
from model.photos.files import IMAGE_SUFFIXES, cleaned_folder
from model.photos.imageio import read_image

ROOT = Path(__file__).resolve().parent.parent


class FakeInpainter(Filler):
    """Inverts the masked pixels: fast, deterministic, easy to check."""

    def __init__(self):
        self.calls = []  # (image shape, hole) per call

    def __call__(self, image, mask, should_stop=None):
        hole = np.asarray(mask) != 0
        assert hole.shape == image.shape[:2]
        self.calls.append(hole.copy())
        out = image.copy()
        out[hole] = 255 - image[hole]
        return FillResult({"refined": out})


def tree_hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def photo_hashes(folder: Path) -> dict:
    return {k: v for k, v in tree_hashes(folder).items() if k != MANIFEST_NAME}


def photos_in(folder: Path) -> list[str]:
    """Visible image files (what a user would take for photos)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def interrupt_batch(args: list, out: Path) -> str:
    """Run ``main.py *args`` and press Ctrl+C once its first photo is in
    ``out``; check that it stopped cleanly (exit 130, says how to resume) and
    return its stderr."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (out.is_dir() and photos_in(out)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "stopped:" in stderr and "--resume" in stderr and "Traceback" not in stderr
    return stderr


def save(path: Path, image: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, **kw)
    return path


def corner_mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[h - 12:h - 4, w - 20:w - 4] = 255  # a watermark-like box near the bottom-right corner
    return m


@pytest.fixture
def shop(tmp_path):
    """photos/ with a JPEG, a PNG and a WebP in a subfolder, and one mask."""
    src = tmp_path / "photos"
    save(src / "a.jpg", smooth_photo(60, 80, seed=1), quality=85)
    save(src / "b.png", smooth_photo(60, 80, seed=2))
    save(src / "sub" / "c.webp", smooth_photo(60, 80, seed=3), lossless=True)
    save(tmp_path / "mask.png", corner_mask(60, 80))
    return src, tmp_path / "mask.png"


def test_one_mask_cleans_every_photo_and_never_touches_the_input(shop):
    src, mask = shop
    before = tree_hashes(src)
    reports = []
    fake = FakeInpainter()
    summary = run_batch(BatchOptions(src, mask=mask), fake, progress=reports.append)
    out = cleaned_folder(src)
    assert out == src.parent / "photos_cleaned"
    assert summary.done == 3 and not summary.failed and summary.total == 3
    assert photos_in(out) == ["a.jpg", "b.png", "sub/c.webp"]
    assert [r.done for r in reports] == [1, 2, 3] and all(r.total == 3 for r in reports)
    assert (out / MANIFEST_NAME).is_file()
    hole = corner_mask(60, 80) > 0
    for name in ("b.png", "sub/c.webp"):  # lossless: exactly the fake's result
        original = read_image(src / name)
        expected = original.copy()
        expected[hole] = 255 - original[hole]
        assert np.array_equal(read_image(out / name), expected)
    with Image.open(out / "a.jpg") as im:
        assert im.format == "JPEG"
    assert tree_hashes(src) == before


def test_bad_files_are_reported_and_never_stop_the_run(tmp_path, monkeypatch):
    src = tmp_path / "in"
    good = smooth_photo(40, 50, seed=1)
    save(src / "good1.png", good)
    save(src / "good2.jpg", good)
    buf = io.BytesIO()
    Image.fromarray(good).save(buf, "JPEG")
    (src / "truncated.jpg").write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.jpg").write_text("this is not a photo\n")
    save(src / "bomb.png", smooth_photo(100, 100))  # over the lowered pixel limit
    monkeypatch.setattr(imageio, "MAX_PIXELS", 5000)
    locked = save(src / "locked.png", good)
    locked.chmod(0)
    can_lock = not os.access(locked, os.R_OK)  # root reads anyway
    mask = tmp_path / "m.png"
    save(mask, corner_mask(40, 50))
    try:
        before = tree_hashes(src) if not can_lock else None
        summary = run_batch(BatchOptions(src, output_dir=tmp_path / "out", mask=mask, mask_fit="stretch"),
                            FakeInpainter())
    finally:
        locked.chmod(0o644)
    reasons = {Path(p).name: r for p, r in summary.failed}
    assert "damaged or truncated" in reasons.pop("truncated.jpg")
    assert "empty file" in reasons.pop("empty.jpg")
    assert "not an image" in reasons.pop("text.jpg")
    assert "too large" in reasons.pop("bomb.png")
    if can_lock:
        assert "permission denied" in reasons.pop("locked.png")
    assert reasons == {}
    assert summary.done == (2 if can_lock else 3)
    assert photos_in(tmp_path / "out") == sorted(["good1.png", "good2.jpg"] + ([] if can_lock else ["locked.png"]))
    if before is not None:
        assert tree_hashes(src) == before


def test_several_decoding_and_writing_threads_give_the_same_run(tmp_path, monkeypatch):
    """On a big machine photos are decoded and written by several threads
    (io_threads): slow and fast decodes mixed, the model still sees the photos
    in plan order, every output is the same bytes and the report the same."""
    import model.jobs.batch as batch

    src = tmp_path / "in"
    for i in range(9):
        save(src / f"p{i}.{('png', 'jpg', 'webp')[i % 3]}", smooth_photo(40, 50, seed=i))
    save(src / "broken.jpg", smooth_photo(40, 50))
    (src / "broken.jpg").write_bytes((src / "broken.jpg").read_bytes()[:200])
    mask = save(tmp_path / "m.png", corner_mask(40, 50))
    read = batch.read_photo
    delays = {f"p{i}": (0.08 if i % 4 == 0 else 0.0) for i in range(9)}

    def slow_read(path):
        time.sleep(delays.get(Path(path).stem, 0.0))
        return read(path)

    def run(threads, out):
        monkeypatch.setattr(batch, "io_threads", lambda: threads)
        monkeypatch.setattr(batch, "read_photo", slow_read)
        seen = []

        class Seeing(FakeInpainter):
            def __call__(self, image, mask, should_stop=None):
                seen.append(hashlib.sha1(image.tobytes()).hexdigest())
                return super().__call__(image, mask)

        summary = run_batch(BatchOptions(src, output_dir=out, mask=mask, report=tmp_path / f"{out.name}.json"),
                            Seeing())
        return summary, seen

    one, seen_one = run(1, tmp_path / "one")
    four, seen_four = run(4, tmp_path / "four")
    assert one.done == four.done == 9 and len(four.failed) == 1
    assert seen_four == seen_one  # the model got the photos in the same (plan) order
    assert photo_hashes(tmp_path / "four") == photo_hashes(tmp_path / "one")
    assert [(r.relpath, r.status, r.reason) for r in four.records] == [(r.relpath, r.status, r.reason) for r in one.records]


# --------------------------------------------------------------- mask fit

@pytest.mark.parametrize("rule, where", [
    ("anchor-topleft", (slice(0, 10), slice(0, 20))),
    ("anchor-topright", (slice(0, 10), slice(60, 80))),
    ("anchor-bottomleft", (slice(50, 60), slice(0, 20))),
    ("anchor-bottomright", (slice(50, 60), slice(60, 80))),
    ("anchor-center", (slice(25, 35), slice(30, 50))),
])
def test_anchor_rules_keep_the_mask_size(rule, where):
    mask = np.zeros((10, 20), bool)
    mask[2:8, 3:17] = True
    out = fit_mask(mask, 60, 80, rule)
    assert out.shape == (60, 80)
    assert np.array_equal(out[where], mask) and out.sum() == mask.sum()


def test_anchor_crops_a_mask_larger_than_the_photo():
    mask = np.ones((30, 30), bool)
    out = fit_mask(mask, 20, 10, "anchor-bottomright")
    assert out.shape == (20, 10) and out.all()


def test_stretch_scales_and_never_loses_a_thin_line():
    mask = np.zeros((100, 200), bool)
    mask[50, 20:180] = True  # one pixel thick
    small = fit_mask(mask, 30, 60, "stretch")
    assert small.shape == (30, 60) and small[:, 10:50].any(axis=0).all()
    big = fit_mask(mask, 300, 600, "stretch")
    assert big.shape == (300, 600) and big[140:160, 100:500].any(axis=0).all()


def test_mask_fit_error_fails_mismatching_photos_naming_both_sizes(tmp_path):
    src = tmp_path / "in"
    save(src / "same.png", smooth_photo(60, 80))
    save(src / "other.png", smooth_photo(50, 70))
    save(tmp_path / "m.png", corner_mask(60, 80))
    summary = run_batch(BatchOptions(src, mask=tmp_path / "m.png"), FakeInpainter())
    assert summary.done == 1
    [(path, reason)] = summary.failed
    assert Path(path).name == "other.png" and "80x60" in reason and "70x50" in reason
    fake = FakeInpainter()
    summary = run_batch(BatchOptions(src, mask=tmp_path / "m.png", mask_fit="anchor-bottomright"), fake)
    assert summary.done == 2 and not summary.failed
    shifted = {h.shape: h for h in fake.calls}[(50, 70)]
    assert np.array_equal(shifted, fit_mask(corner_mask(60, 80) > 0, 50, 70, "anchor-bottomright"))
    assert shifted[50 - 12:50 - 4, 70 - 20:70 - 4].all()  # the corner box stays in the corner


# ----------------------------------------------------------- mask folders

@pytest.mark.parametrize("missing", ["copy", "skip"])
def test_masks_folder_matched_by_relative_path_and_stem(tmp_path, missing):
    src, masks = tmp_path / "in", tmp_path / "masks"
    save(src / "a.jpg", smooth_photo(40, 50, seed=1))
    save(src / "sub" / "b.png", smooth_photo(40, 50, seed=2))
    save(src / "c.png", smooth_photo(40, 50, seed=3))  # no mask
    ma, mb = np.zeros((40, 50), np.uint8), np.zeros((40, 50), np.uint8)
    ma[5:15, 5:15] = 255
    mb[20:30, 30:45] = 255
    save(masks / "a.png", ma)
    save(masks / "sub" / "b.png", mb)
    save(masks / "b.png", ma)  # the subfolder's mask wins for sub/b
    fake = FakeInpainter()
    summary = run_batch(BatchOptions(src, output_dir=tmp_path / "out", masks_dir=masks, missing=missing), fake)
    assert summary.done == 2 and not summary.failed
    assert [np.array_equal(h, m > 0) for h, m in zip(fake.calls, (ma, mb))] == [True, True]
    status = {r.relpath: r.status for r in summary.records}
    if missing == "copy":
        assert status["c.png"] == "copied" and summary.copied == 1
        assert (tmp_path / "out" / "c.png").read_bytes() == (src / "c.png").read_bytes()
    else:
        assert status["c.png"] == "skipped" and summary.skipped == 1
        assert not (tmp_path / "out" / "c.png").exists()


def test_mask_folder_inside_the_photo_folder_is_not_taken_for_photos(tmp_path):
    src = tmp_path / "in"
    save(src / "a.png", smooth_photo(40, 50))
    save(src / "masks" / "a.png", corner_mask(40, 50))
    summary = run_batch(BatchOptions(src, output_dir=tmp_path / "out", masks_dir=src / "masks"), FakeInpainter())
    assert [r.relpath for r in summary.records] == ["a.png"] and summary.done == 1


# --------------------------------------------------------------- usage

def test_usage_problems_are_batch_errors(shop, tmp_path):
    src, mask = shop
    bad = [dict(output_dir=src), dict(output_dir=src / "sub" / "out"), dict(mask=None),
           dict(masks_dir=tmp_path), dict(mask=tmp_path / "nope.png"), dict(mask_fit="diagonal"),
           dict(missing="delete"), dict(quality=0), dict(report=src / "r.json")]
    for change in bad:
        options = BatchOptions(src, mask=mask)
        for k, v in change.items():
            setattr(options, k, v)
        with pytest.raises(BatchError):
            validate_options(options)
    save(tmp_path / "black.png", np.zeros((60, 80), np.uint8))
    with pytest.raises(BatchError, match="empty"):
        validate_options(BatchOptions(src, mask=tmp_path / "black.png"))
    with pytest.raises(BatchError, match="inside"):
        run_batch(BatchOptions(src, output_dir=src / "out", mask=mask), FakeInpainter())
    assert not (src / "out").exists()
    assert validate_options(BatchOptions(src, mask=mask)) == tmp_path / "photos_cleaned"


# ------------------------------------------------------------- resume

def test_stop_between_photos_then_resume_finishes_the_rest(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(6):
        save(src / f"p{i}.{'png' if i % 2 else 'jpg'}", smooth_photo(40, 50, seed=i))
    save(tmp_path / "m.png", corner_mask(40, 50))
    options = BatchOptions(src, output_dir=out, mask=tmp_path / "m.png", report=tmp_path / "r1.json")
    reports = []
    first = run_batch(options, FakeInpainter(), progress=reports.append, should_stop=lambda: len(reports) >= 2)
    assert first.stopped and 2 <= first.done < 6
    finished = photos_in(out)
    assert len(finished) == first.done
    # what a killed run leaves: its lock (a dead pid) and a temp file named with its token
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".inpaint-lock").write_text(json.dumps({"pid": dead.pid, "token": "0123456789ab"}))
    (out / ".p5.png.0123456789ab.1234abcd.inpaint-tmp").write_bytes(b"left by a killed run")
    (out / "notes.inpaint-tmp").write_bytes(b"not the batch's: kept")

    options.resume, options.report = True, tmp_path / "r2.json"
    fake = FakeInpainter()
    second = run_batch(options, fake)
    assert second.done == 6 - first.done and second.skipped == first.done and not second.failed
    assert len(fake.calls) == 6 - first.done  # finished photos are not redone
    assert [p.name for p in out.iterdir() if p.name.endswith(TEMP_SUFFIX)] == ["notes.inpaint-tmp"]
    (out / "notes.inpaint-tmp").unlink()
    assert not (out / ".inpaint-lock").exists()  # released at the end
    report = json.loads((tmp_path / "r2.json").read_text())
    assert sorted(f["relpath"] for f in report["files"] if f["status"] == "resumed") == finished

    fresh = run_batch(BatchOptions(src, output_dir=tmp_path / "fresh", mask=tmp_path / "m.png"), FakeInpainter())
    assert fresh.done == 6
    assert photo_hashes(tmp_path / "fresh") == photo_hashes(out)  # stop + resume == one run


def test_resume_redoes_damaged_outputs_and_other_masks(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        save(src / f"p{i}.png", smooth_photo(40, 50, seed=i))
    save(tmp_path / "m.png", corner_mask(40, 50))
    options = BatchOptions(src, output_dir=out, mask=tmp_path / "m.png", resume=True)
    assert run_batch(options, FakeInpainter()).done == 3
    good = (out / "p1.png").read_bytes()
    (out / "p1.png").write_bytes(good[:100])  # damaged since
    fake = FakeInpainter()
    assert run_batch(options, fake).done == 1 and len(fake.calls) == 1
    assert (out / "p1.png").read_bytes() == good
    other = corner_mask(40, 50)
    other[:5, :5] = 255
    save(tmp_path / "m.png", other)  # a different mask: everything is redone
    assert run_batch(options, FakeInpainter()).done == 3


# ------------------------------------------------------------------ CLI

def cli(*args, **kw):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def ten_photos(tmp_path_factory):
    """10 small photos, a corner mask, and the output of an uninterrupted
    ``main.py batch --mask`` run (the real model, on the CPU)."""
    base = tmp_path_factory.mktemp("ten")
    src = base / "in"
    for i in range(10):
        save(src / f"p{i:02d}.{'jpg' if i % 3 == 0 else 'png'}", smooth_photo(64, 80, seed=i), quality=88)
    save(base / "m.png", corner_mask(64, 80))
    before = tree_hashes(src)
    res = cli("batch", src, "--mask", base / "m.png", "-o", base / "ref", "--device", "cpu")
    return SimpleNamespace(base=base, src=src, mask=base / "m.png", ref=base / "ref", res=res, before=before)


def test_cli_one_mask_end_to_end(ten_photos):
    t = ten_photos
    assert t.res.returncode == 0, t.res.stderr
    assert "10 cleaned" in t.res.stderr and "0 failed" in t.res.stderr
    assert photos_in(t.ref) == photos_in(t.src)
    assert tree_hashes(t.src) == t.before
    hole = corner_mask(64, 80) > 0
    far = np.ones_like(hole)
    far[64 - 20:, 80 - 30:] = False
    for name in ("p01.png", "p02.png"):
        a, b = read_image(t.src / name), read_image(t.ref / name)
        assert np.array_equal(a[far], b[far]) and not np.array_equal(a[hole], b[hole])


def test_cli_masks_folder_bad_file_and_usage_errors(tmp_path):
    src, masks = tmp_path / "in", tmp_path / "masks"
    save(src / "a.png", smooth_photo(48, 64, seed=1))
    save(src / "b.jpg", smooth_photo(48, 64, seed=2))
    save(src / "c.png", smooth_photo(48, 64, seed=3))  # no mask for it
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    for name in ("a", "b", "broken"):
        save(masks / f"{name}.png", corner_mask(48, 64))
    res = cli("batch", src, "--masks", masks, "-o", tmp_path / "out", "--device", "cpu",
              "--report", tmp_path / "r.json")
    assert res.returncode == 1
    assert "broken.jpg" in res.stderr and "2 cleaned" in res.stderr and "1 copied" in res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert {f["relpath"]: f["status"] for f in report["files"]} == {
        "a.png": "done", "b.jpg": "done", "c.png": "copied", "broken.jpg": "failed"}
    (src / "broken.jpg").unlink()
    res = cli("batch", src, "--masks", masks, "--missing", "skip", "-o", tmp_path / "out2", "--device", "cpu")
    assert res.returncode == 0 and "1 skipped" in res.stderr and not (tmp_path / "out2" / "c.png").exists()
    # usage errors exit 2 before loading any model
    assert cli("batch", src, "--masks", masks, "-o", src / "out").returncode == 2
    assert cli("batch", src, "--masks", masks, "--mask", masks / "a.png").returncode == 2
    assert cli("batch", src).returncode == 2
    no_weights = cli("batch", src, "--masks", masks, "-o", tmp_path / "o3", "--weights", tmp_path / "none.pt")
    assert no_weights.returncode == 2 and "weights" in no_weights.stderr


def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(ten_photos):
    t = ten_photos
    assert t.res.returncode == 0, t.res.stderr
    out = t.base / "killed"
    args = [sys.executable, str(ROOT / "main.py"), "batch", str(t.src), "--mask", str(t.mask), "-o", str(out),
            "--device", "cpu"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (out.is_dir() and photos_in(out)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done_early = photos_in(out)
    assert 1 <= len(done_early) < 10, "the run should have been killed part-way"
    for name in done_early:  # every visible photo is complete, never half-written
        assert (out / name).read_bytes() == (t.ref / name).read_bytes()

    res = cli("batch", t.src, "--mask", t.mask, "-o", out, "--device", "cpu", "--resume")
    assert res.returncode == 0, res.stderr
    # one photo more than visible may have finished before the kill; one visible photo may have been
    # killed between its rename and its manifest line (then it is redone, identically)
    assert any(f"{10 - len(done_early) + d} cleaned" in res.stderr for d in (-1, 0, 1)), res.stderr
    assert photos_in(out) == photos_in(t.ref)
    for name in photos_in(out):
        assert (out / name).read_bytes() == (t.ref / name).read_bytes(), name
    assert not [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX)]
    assert tree_hashes(t.src) == t.before


def test_ctrl_c_stops_after_the_current_photo(ten_photos):
    out = ten_photos.base / "interrupted"
    interrupt_batch(["batch", ten_photos.src, "--mask", ten_photos.mask, "-o", out, "--device", "cpu"], out)
    done = photos_in(out)
    assert 1 <= len(done) < 10
    for name in done:
        assert (out / name).read_bytes() == (ten_photos.ref / name).read_bytes()


def test_run_batch_on_a_worker_thread(shop):
    """The GUI calls run_batch off the main thread (no signal handlers there)."""
    import threading
    src, mask = shop
    box = {}
    thread = threading.Thread(target=lambda: box.update(s=run_batch(BatchOptions(src, mask=mask), FakeInpainter())))
    thread.start()
    thread.join(60)
    assert box["s"].done == 3


def test_a_failing_progress_callback_does_not_hang_the_run(shop):
    src, mask = shop

    def progress(info):
        raise RuntimeError("GUI went away")
    with pytest.raises(RuntimeError, match="GUI went away"):
        run_batch(BatchOptions(src, mask=mask), FakeInpainter(), progress=progress)
    assert len(photos_in(cleaned_folder(src))) == 3  # every photo was still written


def test_resume_redoes_the_photos_another_fill_made(tmp_path):
    """The fill keys the job as the mask does: another method, other weights
    (by content, not path) or the texture step switched redoes every photo,
    and the summary says so; the same fill resumes."""
    import shutil

    from model.fill import load_filler
    from model.inference import Inpainter
    from model.paths import BUNDLED_WEIGHTS

    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(3):
        save(src / f"p{i}.png", smooth_photo(40, 50, seed=i))
    save(tmp_path / "m.png", corner_mask(40, 50))
    options = BatchOptions(src, output_dir=out, mask=tmp_path / "m.png", resume=True)
    first = run_batch(options, load_filler("telea"))
    telea = {name: (out / name).read_bytes() for name in photos_in(out)}
    again = run_batch(options, load_filler("telea"))
    other = run_batch(options, load_filler("ns"))
    assert (first.done, again.skipped, other.done) == (3, 3, 3)
    assert {name: (out / name).read_bytes() for name in photos_in(out)} != telea  # ns's fill, not telea's kept
    assert (first.other_job, again.other_job, other.other_job) == (False, False, True)  # no manifest yet: no word

    from model.jobs.manifest import fill_key

    copy = shutil.copy(BUNDLED_WEIGHTS, tmp_path / "same.pt")
    with_texture = Inpainter(device="cpu")
    assert fill_key(with_texture) == fill_key(Inpainter(copy, device="cpu"))  # the same weights elsewhere
    assert fill_key(with_texture) != fill_key(Inpainter(device="cpu", texture=False))
    assert fill_key(with_texture) != fill_key(Inpainter(device="cpu", context=1.0))
    changed = tmp_path / "changed.pt"
    changed.write_bytes(BUNDLED_WEIGHTS.read_bytes() + b"\0")  # other bytes (torch reads it all the same)
    assert fill_key(with_texture) != fill_key(Inpainter(changed, device="cpu"))
    network = run_batch(options, Inpainter(device="cpu", texture=False))
    assert (network.done, network.other_job) == (3, True)
    assert run_batch(options, Inpainter(copy, device="cpu", texture=False)).skipped == 3
    assert run_batch(options, with_texture).done == 3
