"""File ▸ Quit ends the process within 2 s, whatever runs: the real app
(``inpaint_gui.app.main``) in a subprocess, a long removal on a 7.7 MP
photo started with the mouse and Enter, then Quit (after Cancel, or
straight away)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from test_gui import make_photo

ROOT = Path(__file__).resolve().parent.parent

DRIVER = r'''
import sys
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from inpaint_gui import app as gui_app
from inpaint_gui.main_window import MainWindow

photo, mode = sys.argv[1], sys.argv[2]
qapp = QApplication(["inpaint"])


def window():
    return next((w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)), None)


def ready():
    w = window()
    return w is not None and w.inpainter is not None and w.image is not None


def poll():
    QTimer.singleShot(50, paint_and_remove if ready() else poll)


def paint_and_remove():
    win = window()
    win.acts.rect.trigger()
    view, port = win.canvas, win.canvas.viewport()
    a, b = view.mapFromScene(QPointF(300, 300)), view.mapFromScene(QPointF(2900, 2100))
    QTest.mousePress(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(port, b)
    QTest.mouseRelease(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    print("MASK", int(win.mask_model.mask.sum()), flush=True)
    QTest.keyClick(view, Qt.Key.Key_Return)
    QTimer.singleShot(4000, stop)


def stop():
    win = window()
    print("BUSY" if win.is_busy() else "IDLE", flush=True)
    if mode == "cancel":
        win.acts.cancel.trigger()
        QTimer.singleShot(1500, quit_now)
    else:
        quit_now()


def quit_now():
    win = window()
    print("QUIT", flush=True)
    win.acts.quit.trigger()


poll()
sys.exit(gui_app.main([photo]))
'''


@pytest.mark.parametrize("mode", ["cancel", "running"])
def test_quit_ends_the_process_within_2_s(tmp_path, mode):
    photo = tmp_path / "big.jpg"
    Image.fromarray(make_photo(2400, 3200, seed=1)).save(photo, quality=90)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(photo), mode], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, quit_at = [], None
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("QUIT"):
                quit_at = time.monotonic()
                break
        assert quit_at is not None, (lines, proc.stderr.read() if proc.poll() is not None else "")
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - quit_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "BUSY" in lines, f"the removal was not running when Quit came: {lines}"
    assert int(lines[0].split()[1]) > 4_000_000, lines  # the rectangle tool painted the big hole
    assert code == 0, (code, proc.stderr.read())
    assert seconds < 2.0, f"the process ended {seconds:.1f} s after Quit"
