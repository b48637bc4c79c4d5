"""The weights are package data: the wheel holds resources/default.pt, and a
plain (non-editable) install, run from outside the checkout, removes an object."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_holds_the_weights_and_an_installed_copy_runs_remove(tmp_path):
    wheels = tmp_path / "wheels"
    # built from a copy: setuptools writes build/ and *.egg-info next to the sources
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "tests", "docs", "runs", "data"))
    # offline: no build isolation (setuptools comes with the test extra), no dependencies
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                            "--no-index", "-q", "-w", str(wheels)], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("region_inpaint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"resources/default.pt", "resources/vgg16_hed_conv1_3.pt", "resources/debian_photos.txt",
            "model/cli/__init__.py", "model/photos/imageio.py", "inpaint_gui/app.py",
            "inpaint_gui/dialogs/batch.py"} <= names
    assert not [n for n in names if n.startswith(("benchmarks/", "tests/", "scripts/", "resources/experimental/"))]
    assert "inpaint_gui/screenshots.py" not in names  # a developer tool: scripts/screenshots.py

    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                              "--target", str(site), str(wheel)], capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stderr

    work = tmp_path / "work"  # outside the checkout: nothing may come from it
    work.mkdir()
    photo = np.full((64, 80, 3), 120, np.uint8)
    photo[:, 40:] = (30, 160, 60)
    photo[26:38, 32:48] = (250, 0, 0)  # the object to remove
    Image.fromarray(photo).save(work / "photo.png")
    hole = np.zeros((64, 80), np.uint8)
    hole[24:40, 30:50] = 255
    Image.fromarray(hole).save(work / "mask.png")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INPAINT_WEIGHTS")}
    env["PYTHONPATH"] = str(site)
    env["HOME"] = str(tmp_path)  # no user data dir weights to fall back on
    probe = ("import model, resources; print(model.__file__); print(resources.__file__)")
    where = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    assert all(Path(p).is_relative_to(site) for p in where.stdout.split()), where.stdout
    run = subprocess.run([sys.executable, "-m", "model.cli", "remove", "photo.png", "--mask", "mask.png",
                          "--device", "cpu", "--texture", "off"], capture_output=True, text=True, cwd=work, env=env)
    assert run.returncode == 0, run.stderr
    out = np.asarray(Image.open(work / "photo_cleaned.png"))
    assert out.shape == photo.shape
    assert np.array_equal(out[:16], photo[:16])  # far from the hole: untouched
    assert out[26:38, 32:48, 0].max() < 200  # the red object is gone, filled from grey and green
