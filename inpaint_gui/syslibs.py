"""Are the system libraries that Qt's xcb platform plugin needs installed?

PySide6's wheels bundle Qt but not the X11/OpenGL/font libraries of the
system. Without them Qt aborts at start-up (exit 134, "Reinstalling the
application may fix this problem"), naming at most one library, sometimes the
wrong package. ``main()`` in ``inpaint_gui.app`` calls :func:`startup_problem`
before Qt is even imported, and ``make run`` runs ``python -m
inpaint_gui.syslibs``: both print what is missing and the one install line.

This module imports nothing from Qt (it must work when Qt cannot load).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Every library outside the wheel that libqxcb.so and the Qt libraries the app
# loads need (``ldd .venv/lib/python3*/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so``),
# with the Debian/Ubuntu package that ships it. Base-system libraries (libc,
# libstdc++, zlib, ...) are left out.
PACKAGES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}

# The README's line (the same packages, each once, in a readable order).
INSTALL_PACKAGES = (
    "libegl1", "libgl1", "libfontconfig1", "libfreetype6", "libdbus-1-3", "libglib2.0-0", "libxkbcommon0",
    "libxkbcommon-x11-0", "libx11-6", "libx11-xcb1", "libxcb1", "libxcb-cursor0", "libxcb-icccm4",
    "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render0", "libxcb-render-util0",
    "libxcb-shape0", "libxcb-shm0", "libxcb-sync1", "libxcb-util1", "libxcb-xfixes0", "libxcb-xkb1",
)
INSTALL_LINE = "sudo apt-get install " + " ".join(INSTALL_PACKAGES)


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found without importing PySide6 (None if absent)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if path.is_file():
            return path
    return None


def parse_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` reports as ``not found``, each once, in order."""
    missing: list[str] = []
    for line in output.splitlines():
        name, sep, where = line.strip().partition("=>")
        if sep and where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def _dlopen_missing(sonames) -> list[str]:
    missing = []
    for soname in sonames:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """Sonames the xcb plugin needs that the dynamic loader cannot find.

    ``ldd`` on the plugin (it follows the Qt libraries' own dependencies and
    loads nothing into this process); without ``ldd``, each known library is
    dlopen-ed by name."""
    plugin = plugin or xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is not None and ldd is not None:
        try:
            res = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30)
            return parse_ldd(res.stdout)
        except (OSError, subprocess.SubprocessError):
            pass
    return _dlopen_missing(PACKAGES)


def packages_for(sonames: list[str]) -> list[str]:
    """Debian/Ubuntu packages to install for ``sonames`` (unknown names kept as they are)."""
    out: list[str] = []
    for soname in sonames:
        package = PACKAGES.get(soname, soname)
        if package not in out:
            out.append(package)
    return out


def report(missing: list[str]) -> str:
    """The message printed when libraries are missing."""
    packages = packages_for(missing)
    return ("The desktop app cannot start: Qt's X11 (xcb) platform plugin needs system libraries "
            "that are not installed:\n  " + " ".join(missing) + "\n\n"
            "On Debian/Ubuntu install them with:\n  sudo apt-get install " + " ".join(packages) + "\n"
            "(or all the app's system packages at once:\n  " + INSTALL_LINE + ")\n"
            "Other Linux distributions ship the same libraries as xcb-util-cursor, xcb-util-wm, "
            "xcb-util-keysyms, xcb-util-image, xcb-util-renderutil, libxkbcommon-x11, mesa-libEGL.")


def uses_xcb(env=os.environ, platform: str = sys.platform) -> bool:
    """Will Qt start on the xcb platform? (Linux with an X display, no other platform asked for.)"""
    if not platform.startswith("linux"):
        return False
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0] == "xcb"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return False  # Qt 6 picks its wayland plugin first there
    return bool(env.get("DISPLAY"))


NO_DISPLAY = ("error: no display (DISPLAY and WAYLAND_DISPLAY are not set): run the app on a desktop, "
              "or use the commands: python main.py --help")


def has_display(env=os.environ, platform: str = sys.platform) -> bool:
    """Can Qt show a window? On Linux only with an X or Wayland display, or a
    platform asked for by name (offscreen, vnc...); elsewhere always."""
    if not platform.startswith("linux"):
        return True
    return bool(env.get("QT_QPA_PLATFORM", "").strip() or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def startup_problem(env=os.environ, platform: str = sys.platform) -> str | None:
    """The message to print (and exit 2) when the app would abort in Qt: no
    display (Qt's xcb plugin aborts with exit 134), or missing system
    libraries; None when it can start."""
    if not has_display(env, platform):
        return NO_DISPLAY
    if not uses_xcb(env, platform) or xcb_plugin() is None:
        return None
    missing = missing_libraries()
    return report(missing) if missing else None


def main(argv: list[str] | None = None) -> int:
    """``python -m inpaint_gui.syslibs``: 0 when nothing is missing (or not
    Linux), 2 after printing the missing libraries and the install line."""
    if not sys.platform.startswith("linux") or xcb_plugin() is None:
        return 0
    missing = missing_libraries()
    if missing:
        print(report(missing), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
