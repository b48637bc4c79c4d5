"""The start-up check for Qt's xcb system libraries (inpaint_gui.syslibs)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inpaint_gui import syslibs

ROOT = Path(__file__).resolve().parent.parent

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f65)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibEGL.so.1 => not found
"""


def test_parse_ldd_lists_each_missing_library_once():
    assert syslibs.parse_ldd(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libEGL.so.1"]


def test_report_names_the_right_packages_and_the_install_line():
    text = syslibs.report(["libxcb-icccm.so.4", "libEGL.so.1", "libodd.so.7"])
    assert "sudo apt-get install libxcb-icccm4 libegl1 libodd.so.7" in text
    assert syslibs.INSTALL_LINE in text


def test_every_library_the_plugin_needs_has_a_package():
    plugin = syslibs.xcb_plugin()
    assert plugin is not None and plugin.is_file()
    res = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True)
    system = [line.split("=>")[0].strip() for line in res.stdout.splitlines() if "=>" in line]
    base = ("libc.so", "libm.so", "libstdc++", "libgcc_s", "libz.so", "libzstd", "libpthread", "libdl.so",
            "libpcre2", "libXau", "libXdmcp", "libGLdispatch", "libGLX", "libpng", "libbrotli", "libexpat",
            "libbsd", "libsystemd", "libmd.so", "libcap", "libgcrypt", "liblzma", "liblz4", "libgpg-error",
            "libQt6", "libicu", "librt", "libffi", "libmount", "libblkid", "libselinux", "libuuid", "libudev")
    unknown = [s for s in system if s not in syslibs.PACKAGES and not s.startswith(base)]
    assert not unknown, f"add these to syslibs.PACKAGES: {unknown}"
    # and the README's line is the module's line
    assert syslibs.INSTALL_LINE in (ROOT / "README.md").read_text()


def test_uses_xcb_only_for_an_x_display():
    assert syslibs.uses_xcb({"DISPLAY": ":0"}, "linux")
    assert not syslibs.uses_xcb({}, "linux")
    assert not syslibs.uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert syslibs.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not syslibs.uses_xcb({"DISPLAY": ":0"}, "darwin")
    assert not syslibs.uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"},
                                "linux")


def test_app_exits_2_with_the_install_line_before_qt_starts(monkeypatch, capsys):
    from inpaint_gui import app

    monkeypatch.setenv("DISPLAY", ":42")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(syslibs, "missing_libraries", lambda plugin=None: ["libxcb-icccm.so.4"])
    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4" in err and "sudo apt-get install libxcb-icccm4" in err


def test_main_py_on_a_display_without_libraries_exits_2_not_134(tmp_path):
    """python main.py with the loader unable to find the xcb libraries: the
    check runs before Qt is imported, so the process exits 2 with the line."""
    code = ("import sys, inpaint_gui.syslibs as s\n"
            "s.missing_libraries = lambda plugin=None: ['libxcb-cursor.so.0', 'libxcb-icccm.so.4']\n"
            "from main import main\n"
            "assert 'PySide6.QtGui' not in sys.modules\n"
            "rc = main([])\n"
            "assert 'PySide6.QtGui' not in sys.modules\n"
            "sys.exit(rc)\n")
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":42", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in res.stderr
