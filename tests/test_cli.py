import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import smooth_photo

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_remove_end_to_end(tmp_path):
    image = smooth_photo(160, 200, seed=4)
    Image.fromarray(image).save(tmp_path / "in.png")
    mask = np.zeros((160, 200), np.uint8)
    mask[50:90, 60:120] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    res = run("remove", tmp_path / "in.png", "--mask", tmp_path / "mask.png",
              "--coarse", tmp_path / "coarse.png", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    out = np.asarray(Image.open(tmp_path / "in_cleaned.png"))
    assert out.shape == image.shape
    far = np.ones(mask.shape, bool)
    far[40:100, 50:130] = False
    assert np.array_equal(out[far], image[far])
    assert not np.array_equal(out[55:85, 65:115], image[55:85, 65:115])
    assert (tmp_path / "coarse.png").is_file()


def test_remove_reports_bad_input(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "m.png")
    res = run("remove", tmp_path / "bad.jpg", "--mask", tmp_path / "m.png")
    assert res.returncode == 1
    assert "bad.jpg" in res.stderr and "Traceback" not in res.stderr


def test_remove_size_mismatch(tmp_path):
    Image.fromarray(smooth_photo(50, 60)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(tmp_path / "m.png")
    res = run("remove", tmp_path / "a.png", "--mask", tmp_path / "m.png")
    assert res.returncode == 1 and "60x40" in res.stderr


def test_usage_error_exit_code():
    assert run("remove").returncode == 2
    assert run("no-such-command").returncode == 2
