"""Starting the app where it cannot show a window: one clear line and exit 2,
before Qt is loaded (Qt's xcb plugin would abort with exit 134)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inpaint_gui import syslibs

ROOT = Path(__file__).resolve().parent.parent


def no_display_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is Linux's")
@pytest.mark.parametrize("command", [["main.py"], ["main.py", "gui", "photo.jpg"], ["-m", "inpaint_gui.app"]],
                         ids=["main.py", "main.py gui PHOTO", "inpaint-gui"])
def test_no_display_says_so_in_one_line_and_exits_2(command):
    res = subprocess.run([sys.executable, *command], cwd=ROOT, env=no_display_env(), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines == [syslibs.NO_DISPLAY], res.stderr
    assert "python main.py --help" in lines[0] and "no display" in lines[0]
    assert res.stdout == ""


def test_has_display_rules():
    assert not syslibs.has_display({}, "linux")
    assert syslibs.has_display({"DISPLAY": ":1"}, "linux")
    assert syslibs.has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert syslibs.has_display({"QT_QPA_PLATFORM": "offscreen"}, "linux")  # tests, screenshots
    assert syslibs.has_display({}, "darwin") and syslibs.has_display({}, "win32")
