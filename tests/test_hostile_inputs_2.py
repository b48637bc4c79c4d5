"""Hostile inputs, round two (issue #25): a user's file is never changed, an
output is never half-written yet recorded as done, a refused run writes
nothing, and every mistake is one clear line. One test (or a few) per numbered
case of the issue; case 3 (photos without the mark) lives with the watermark
tests and case 11 (specks) with the texture tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smooth_photo
from model.jobs.batch import run_batch
from model.jobs.lock import OutputLock
from model.jobs.manifest import MANIFEST_NAME
from model.jobs.options import BatchOptions
from test_hostile_inputs import (FakeInpainter, _tiny_trainer, _train_options, box_mask, cli, error_lines, fake_model,
                                 hashes, save, shop, train_data)  # noqa: F401 - fixtures
from test_watermark_restore import synthetic

ROOT = Path(__file__).resolve().parent.parent


def one_error(err: str, *says: str) -> str:
    """The single ``error:`` line of ``err``, which must say each of ``says``."""
    lines = error_lines(err)
    assert len(lines) == 1, err
    for text in says:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def marked(tmp_path):
    """wmo/: 12 photos under one semi-transparent mark (PNG, so the estimate is exact)."""
    _, photos, _, _ = synthetic(12, h=120, w=160, seed=3)
    folder = tmp_path / "wmo"
    for i, image in enumerate(photos):
        save(folder / f"{i:02d}.png", image)
    return folder


# ------------------------------------ 1. watermark-mask never replaces a photo

@pytest.mark.parametrize("name", ["00.png", "new.png"])
def test_r1_watermark_mask_output_into_the_photo_folder_is_refused(marked, capsys, name):
    before = hashes(marked)
    code, err = cli(capsys, "watermark-mask", marked, "-o", marked / name)
    assert code == 2
    one_error(err, str(marked / name), "inside the photo folder")
    assert hashes(marked) == before  # nothing replaced, nothing added to be read back as a photo


def test_r1_watermark_mask_outside_the_folder_still_works(marked, tmp_path, capsys):
    before = hashes(marked)
    code, _ = cli(capsys, "watermark-mask", marked, "-o", tmp_path / "wm.png")
    assert code == 0 and (tmp_path / "wm.png").is_file() and (tmp_path / "wm_alpha.png").is_file()
    assert hashes(marked) == before


# ------------------------------- 2. a full disk never leaves a broken "done" photo

FULL_DISK = """
import resource, signal, sys
sys.path.insert(0, {root!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (16384, resource.RLIM_INFINITY))
"""


def _progressive_photo(path: Path) -> Path:
    """A 600x400 progressive JPEG of noise (~200 KB): PIL's progressive
    encoder loses the write error of a full disk and leaves 16 KB."""
    image = (np.random.default_rng(0).random((400, 600, 3)) * 255).astype(np.uint8)
    return save(path, image, quality=95, progressive=True)


def test_r2_save_on_a_full_disk_raises_and_leaves_no_file(tmp_path):
    src = _progressive_photo(tmp_path / "in.jpg")
    out = tmp_path / "out" / "r.jpg"
    script = FULL_DISK.format(root=str(ROOT)) + textwrap.dedent(f"""
        from model.photos.imageio import read_photo
        from model.photos.savefile import restore_like, save_pixels
        photo = read_photo({str(src)!r})
        try:
            save_pixels(restore_like(photo.rgb, photo), {str(out)!r}, photo.meta)
        except OSError as exc:
            print("raised", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "raised" in done.stdout, done.stdout + done.stderr
    assert not out.exists() and os.listdir(out.parent) == []  # no truncated result, no temp


def test_r2_batch_on_a_full_disk_fails_the_photo_and_resume_redoes_it(tmp_path):
    src = tmp_path / "photos"
    _progressive_photo(src / "big.jpg")
    save(src / "small.png", smooth_photo(40, 50, seed=1))
    hole = np.zeros((8, 8), np.uint8)
    hole[2:6, 2:6] = 255
    mask = save(tmp_path / "mask.png", hole)
    out = tmp_path / "out"
    script = FULL_DISK.format(root=str(ROOT)) + textwrap.dedent(f"""
        from pathlib import Path
        from model.fill.base import Filler, FillResult
        from model.jobs.batch import run_batch
        from model.jobs.options import BatchOptions
        class Invert(Filler):
            def fill(self, image, hole, should_stop=None, progress=None):
                out = image.copy(); out[hole] = 255 - image[hole]
                return FillResult({{"refined": out, "coarse": out}})
        s = run_batch(BatchOptions(Path({str(src)!r}), output_dir=Path({str(out)!r}), mask=Path({str(mask)!r}),
                                   mask_fit="stretch"), Invert())
        print("done", s.done, "failed", [p.rsplit("/", 1)[-1] for p, _ in s.failed])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "done 1 failed ['big.jpg']" in done.stdout, done.stdout + done.stderr
    assert not (out / "big.jpg").exists()
    manifest = (out / MANIFEST_NAME).read_text()
    assert '"rel": "small.png"' in manifest and "big.jpg" not in manifest
    again = run_batch(BatchOptions(src, output_dir=out, mask=mask, mask_fit="stretch", resume=True),
                      FakeInpainter())
    assert again.done == 1 and again.skipped == 1  # big.jpg redone, small.png resumed
    with Image.open(out / "big.jpg") as im:
        im.load()  # decodes whole
        assert im.size == (600, 400)


def test_r2_a_copy_that_comes_out_short_is_not_kept(tmp_path, monkeypatch):
    import shutil

    import model.photos.atomic as atomic

    src = save(tmp_path / "a.png", smooth_photo(40, 50, seed=1))

    def short_copy(a, b):
        Path(b).write_bytes(Path(a).read_bytes()[:100])

    monkeypatch.setattr(shutil, "copy2", short_copy)
    with pytest.raises(OSError, match="incomplete write"):
        atomic.copy_atomic(src, tmp_path / "out" / "a.png")
    assert os.listdir(tmp_path / "out") == []


# ---------------------------------- 4. the report never lands on an output

@pytest.mark.parametrize("where", ["b.jpg", "sub/c.json", "", ".inpaint-watermark"])
def test_r4_report_on_an_output_or_the_folder_is_refused_before_the_run(shop, capsys, fake_model, where):
    save(shop.src / "sub" / "c.json" / "x.png", smooth_photo(40, 50, seed=3))  # a folder named c.json
    out = shop.base / "out"
    report = out / where if where else out
    code, err = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", out, "--report", report)
    assert code == 2 and not fake_model
    one_error(err, f"the report {report}")
    assert not out.exists()  # refused before anything was written


def test_r4_report_with_its_own_name_inside_the_output_folder_is_fine(shop, capsys, fake_model):
    out = shop.base / "out"
    code, _ = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", out, "--report", out / "report.json")
    assert code == 0 and json.loads((out / "report.json").read_text())["done"] == 2


# ------------------------- 5. never write through a symlink in the output tree

def test_r5_symlinked_subfolder_in_the_output_is_not_written_through(shop, capsys, fake_model):
    save(shop.src / "sub" / "b.jpg", smooth_photo(40, 50, seed=4), quality=90)
    elsewhere = shop.base / "elsewhere"
    victim = save(elsewhere / "b.jpg", smooth_photo(40, 50, seed=9), quality=90)
    before = victim.read_bytes()
    out = shop.base / "out7"
    out.mkdir()
    os.symlink("../elsewhere", out / "sub")
    code, err = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", out)
    assert code == 1
    assert victim.read_bytes() == before and sorted(os.listdir(elsewhere)) == ["b.jpg"]
    assert f"FAILED {shop.src / 'sub' / 'b.jpg'}" in err and "symbolic link inside the output folder" in err
    assert (out / "a.png").is_file() and (out / "b.jpg").is_file()  # the rest of the run goes on


def test_r5_a_planted_manifest_symlink_is_replaced_not_written_through(shop, fake_model, capsys):
    out = shop.base / "out"
    out.mkdir()
    target = shop.base / "precious.txt"
    target.write_text("keep me\n")
    os.symlink(target, out / MANIFEST_NAME)
    code, _ = cli(capsys, "batch", shop.src, "--mask", shop.mask, "-o", out, "--resume")
    assert code == 0 and target.read_text() == "keep me\n"
    assert not (out / MANIFEST_NAME).is_symlink()


# ------------------------- 6. checkpoints with bad values are refused up front

BAD_CONFIGS = {"dilations": ([2, 4, 8, 1000], "dilations"), "width": (500, "width"),
               "prefill": ("bogus", "prefill"), "run_size": ("512", "run_size")}


@pytest.fixture(scope="module")
def bundled():
    from model.paths import BUNDLED_WEIGHTS

    return torch.load(BUNDLED_WEIGHTS, weights_only=True)


@pytest.mark.parametrize("field", sorted(BAD_CONFIGS))
def test_r6_bad_config_values_are_one_line_before_building(bundled, tmp_path, capsys, field):
    ckpt = {**bundled, "config": {**bundled["config"], field: BAD_CONFIGS[field][0]}}
    path = tmp_path / "edited.pt"
    torch.save(ckpt, path)
    photo = save(tmp_path / "in.png", smooth_photo(40, 50, seed=1))
    mask = save(tmp_path / "mask.png", box_mask())
    code, err = cli(capsys, "remove", photo, "--mask", mask, "--weights", path, "--device", "cpu")
    assert code == 2
    one_error(err, str(path), BAD_CONFIGS[field][1])
    assert not (tmp_path / "in_cleaned.png").exists()


def test_r6_memory_estimate_refuses_a_huge_plan_and_passes_the_real_ones():
    from model.netconfig import CONFIGS, ConfigError, NetConfig

    for cfg in CONFIGS.values():
        NetConfig.from_dict(cfg.to_dict())  # both shipped plans pass
    huge = {**CONFIGS["paper"].to_dict(), "width": 256, "full_res_width": 1024, "run_size": 4096}
    with pytest.raises(ConfigError, match="GiB"):
        NetConfig.from_dict(huge)


def test_r6_nan_weights_are_refused(bundled, tmp_path, capsys):
    from model.checkpoint import CheckpointError, load_network

    state = dict(bundled["model"])
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name].clone().fill_(float("nan"))
    path = tmp_path / "nan.pt"
    torch.save({**bundled, "model": state}, path)
    with pytest.raises(CheckpointError, match="NaN"):
        load_network(path)
    photo = save(tmp_path / "in.png", smooth_photo(40, 50, seed=1))
    mask = save(tmp_path / "mask.png", box_mask())
    code, err = cli(capsys, "remove", photo, "--mask", mask, "--weights", path, "--device", "cpu")
    assert code == 2
    one_error(err, str(path), "NaN")


# ---------------------------------- 7. damaged step or RNG state on --resume

@pytest.mark.parametrize("damage", ["step", "rng", "best_psnr", "config"])
def test_r7_resume_with_a_damaged_field_is_one_line(train_data, tmp_path, damage):
    from model.training.trainer import TrainError

    run = tmp_path / "run"
    _tiny_trainer(_train_options(train_data, run)).run()
    ckpt = torch.load(run / "last.pt", weights_only=True)
    if damage == "step":
        ckpt["step"] = "12x"
    elif damage == "rng":
        ckpt["rng"] = {"torch": torch.zeros(5)}  # float, not the generator's bytes
    elif damage == "best_psnr":
        ckpt["best_psnr"] = "high"
    else:
        ckpt["config"]["dilations"] = [2, 4, 8, 1000]
    torch.save(ckpt, run / "last.pt")
    with pytest.raises(TrainError) as info:
        _tiny_trainer(_train_options(train_data, run, steps=3, resume=True)).run()
    message = str(info.value)
    assert "\n" not in message and str(run / "last.pt") in message, message
    assert ("damaged" in message) or ("dilations" in message), message


# -------------------------------------------------------- 8. fetch-data

def test_r8_fetch_data_into_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "photos.txt"
    target.write_text("mine\n")
    code, err = cli(capsys, "fetch-data", "debian-photos", target)
    assert code == 2 and target.read_text() == "mine\n"
    one_error(err, str(target), "not a folder")


def test_r8_fetch_data_without_apt_get_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, err = cli(capsys, "fetch-data", "debian-photos", tmp_path / "photos")
    assert code == 2
    one_error(err, "apt-get", "Debian")


# ----------------------------- 9. watermark-mask -o a folder or under a file

@pytest.mark.parametrize("kind", ["folder", "under-a-file"])
def test_r9_watermark_mask_to_a_folder_or_under_a_file_is_one_line(marked, tmp_path, capsys, kind):
    (tmp_path / "afolder.png").mkdir()
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afolder.png" if kind == "folder" else tmp_path / "afile" / "wm.png"
    code, err = cli(capsys, "watermark-mask", marked, "-o", out)
    assert code == 2
    one_error(err, str(out))
    assert (tmp_path / "afile").read_text() == "x"


# ------------------------------------------ 10. a refused run writes nothing

def test_r10_refused_watermark_run_writes_nothing(marked, capsys, fake_model):
    parent = marked.parent
    before = sorted(os.listdir(parent))
    code, err = cli(capsys, "batch", marked, "--watermark", "auto", "-o", parent)
    assert code == 2
    one_error(err, "output folder")
    assert sorted(os.listdir(parent)) == before  # no .inpaint-watermark/ left behind


def test_r10_watermark_run_into_a_busy_folder_leaves_the_live_runs_files(marked, tmp_path, capsys, fake_model):
    out = tmp_path / "out"
    estimate = out / ".inpaint-watermark"
    estimate.mkdir(parents=True)
    files = {name: f"the live run's {name}".encode() for name in ("watermark.png", "watermark_alpha.png",
                                                                    "watermark_colour.png")}
    for name, data in files.items():
        (estimate / name).write_bytes(data)
    lock = OutputLock(out, "0123456789ab")
    lock.acquire()
    try:
        code, err = cli(capsys, "batch", marked, "--watermark", "auto", "-o", out)
    finally:
        lock.release()
    assert code == 2
    one_error(err, "another batch run")
    assert {p.name: p.read_bytes() for p in estimate.iterdir()} == files


def test_r10_watermark_run_saves_its_estimate_under_the_lock(marked, tmp_path, capsys, fake_model):
    out = tmp_path / "out"
    code, _ = cli(capsys, "batch", marked, "--watermark", "auto", "-o", out)
    assert code == 0
    assert sorted(p.name for p in (out / ".inpaint-watermark").iterdir()) == [
        "watermark.png", "watermark_alpha.png", "watermark_colour.png"]
    assert len([p for p in out.iterdir() if p.suffix == ".png"]) == 12


# ------------------------- 12. one photo lister: never out of the folder

def test_r12_watermark_estimate_never_follows_links_out_of_the_folder(marked, tmp_path):
    from model.jobs.watermark_estimate import watermark_from_folder
    from model.photos.files import readable_photos

    outside = tmp_path / "none"
    _, stray, _, _ = synthetic(1, h=120, w=160, seed=8)
    save(outside / "00.png", stray[0])
    os.symlink(outside / "00.png", marked / "zz_out.png")
    os.symlink("/etc/passwd", marked / "y.png")
    os.symlink(marked / "01.png", marked / "zz_in.png")  # a link inside the folder is a photo like any other
    usable, refused = readable_photos(marked)
    assert marked / "zz_out.png" not in usable and marked / "y.png" not in usable
    assert {p.name for p, _ in refused} == {"zz_out.png", "y.png"}
    assert all("outside" in reason for _, reason in refused)
    mark = watermark_from_folder(marked)
    used = {Path(p).name for p in mark.used}
    assert "zz_out.png" not in used and "y.png" not in used and "zz_in.png" in used


def test_r12_training_scan_skips_links_out_of_the_folder(train_data, tmp_path):
    from model.training.data import scan_photos

    outside = save(tmp_path / "elsewhere" / "x.png", smooth_photo(80, 96, seed=7))
    os.symlink(outside, train_data / "link.png")
    scan = scan_photos(train_data)
    assert train_data / "link.png" not in scan.usable and len(scan.usable) == 3
    assert any(p == train_data / "link.png" and "outside" in why for p, why in scan.skipped)


# ------------------------------------------------------------- cosmetic

def test_cosmetic_huge_image_is_one_line_without_pils_warning(tmp_path):
    """A PNG header claiming 16000 x 14000 px (over the 200 MP limit, under PIL's 2x error)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16000, 14000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    mask = save(tmp_path / "mask.png", box_mask())
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "remove", str(huge), "--mask", str(mask)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "DecompressionBombWarning" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "too large" in done.stderr, done.stderr


def test_cosmetic_random_bytes_are_not_called_code(tmp_path):
    from model.checkpoint import CheckpointError, load_network

    path = tmp_path / "random.pt"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError) as info:
        load_network(path)
    assert "code" not in str(info.value) and "not a checkpoint" in str(info.value)


@pytest.mark.parametrize("compression, expected", [(1, "raw"), (5, "tiff_lzw")])
def test_cosmetic_16_bit_tiff_keeps_its_compression(tmp_path, compression, expected):
    import cv2

    from model.photos.imageio import read_photo
    from model.photos.savefile import restore_like, save_pixels

    image = (np.random.default_rng(0).random((40, 50, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "in.tif"), image, [cv2.IMWRITE_TIFF_COMPRESSION, compression])
    photo = read_photo(tmp_path / "in.tif")
    save_pixels(restore_like(photo.rgb, photo), tmp_path / "out.tif", photo.meta)
    with Image.open(tmp_path / "out.tif") as im:
        assert im.info.get("compression") == expected
    assert np.array_equal(cv2.imread(str(tmp_path / "out.tif"), cv2.IMREAD_UNCHANGED),
                          cv2.imread(str(tmp_path / "in.tif"), cv2.IMREAD_UNCHANGED))


def test_r9_remove_under_a_file_is_one_line_before_the_model(tmp_path, capsys, fake_model):
    photo = save(tmp_path / "in.png", smooth_photo(40, 50, seed=1))
    mask = save(tmp_path / "mask.png", box_mask())
    (tmp_path / "afile").write_text("x")
    code, err = cli(capsys, "remove", photo, "--mask", mask, "-o", tmp_path / "afile" / "r.png")
    assert code == 2 and not fake_model and (tmp_path / "afile").read_text() == "x"
    one_error(err, "afile", "is a file, not a folder")
