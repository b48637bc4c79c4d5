"""Progress of a removal: the engine reports its steps, the app shows them
with a percentage and the time left, ``main.py remove`` prints a line on a
terminal and nothing on a pipe."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from inpaint_gui.main_window import PAGE_RESULT
from model.photos.imageio import write_mask

from test_gui import dialogs, make_photo, photo_file, stroke, window  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


def two_holes(h: int = 600, w: int = 900) -> np.ndarray:
    hole = np.zeros((h, w), bool)
    hole[100:160, 100:170] = True
    hole[380:520, 600:820] = True  # another region, another crop size
    return hole


def test_the_engine_reports_each_step_with_the_fraction_done():
    from model.inference import Inpainter
    inpainter = Inpainter(device="cpu")
    calls = []
    result = inpainter(make_photo(600, 900), two_holes(), progress=lambda step, f: calls.append((step, f)))
    assert result.refined.shape == (600, 900, 3)
    steps = [s for s, _ in calls]
    assert steps[0] == "regions" and calls[0][1] == 0.0
    assert "network" in steps
    from model import texture
    if texture.available():
        assert "texture" in steps and steps.index("texture") > steps.index("network")
    fractions = [f for _, f in calls]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions), "the fraction done never goes back"
    assert fractions[-1] == 1.0
    assert len(set(fractions)) >= 4, f"too coarse to show: {calls}"


def test_the_status_bar_shows_the_step_the_percentage_and_the_time_left(qtbot, window, photo_file):
    win = window
    win.open_photo(photo_file)
    real = win.inpainter

    class Paced:
        """The real model, each of its steps made slower (like a 12 MP photo)."""
        device, weights_path = real.device, real.weights_path

        def __call__(self, image, hole, should_stop=None, progress=None):
            def slow(step, fraction):
                progress(step, fraction)
                time.sleep(0.6)
            return real(image, hole, should_stop=should_stop, progress=slow)

    win.inpainter = Paced()
    messages, bars = [], []
    win.statusBar().messageChanged.connect(messages.append)
    win.busy.valueChanged.connect(lambda v: bars.append((win.busy.maximum(), v, win.busy.text())))
    stroke(qtbot, win.canvas, [(150, 70), (160, 90), (170, 100)])
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.stack.currentIndex() == PAGE_RESULT, timeout=60000)
    shown = [m for m in messages if m.startswith("Removing: ")]
    assert any("network" in m and "%" in m for m in shown), messages
    assert any("texture" in m for m in shown) or not real.texture, messages
    assert any(" s left" in m for m in shown), f"no time left shown: {shown}"
    percents = [v for top, v, _ in bars if top == 100]
    assert percents and max(percents) >= 50 and percents == sorted(percents), bars
    assert any("network" in text and "%" in text for _, _, text in bars), bars


def _remove_args(tmp_path: Path) -> list[str]:
    photo, mask = tmp_path / "p.png", tmp_path / "m.png"
    Image.fromarray(make_photo(600, 900)).save(photo)
    write_mask(mask, two_holes())
    return [sys.executable, "main.py", "remove", str(photo), "--mask", str(mask), "--device", "cpu",
            "-o", str(tmp_path / "out.png")]


def test_main_py_remove_prints_progress_on_a_terminal_only(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # a terminal: the progress line is rewritten in place
    master, slave = pty.openpty()
    proc = subprocess.Popen(_remove_args(tmp_path), cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    deadline = time.time() + 240
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(60) == 0, out.decode(errors="replace")
    text = out.decode(errors="replace")
    assert "\rremoving: network" in text, text
    assert "100 %" in text and "wrote" in text
    # a pipe (a log, a script): quiet
    (tmp_path / "out.png").unlink()
    res = subprocess.run(_remove_args(tmp_path), cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert "removing:" not in res.stderr and "\r" not in res.stderr + res.stdout
    assert res.stdout.strip() == f"wrote {tmp_path / 'out.png'}"
