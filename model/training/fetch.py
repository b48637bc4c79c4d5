"""The default training set: photographs shipped in Debian packages.

``python main.py fetch-data debian-photos DIR`` (``model/cli/fetch_data.py``)
downloads the packages with ``apt-get download``, unpacks them with
``dpkg-deb -x`` and copies the photographs listed in
``resources/debian_photos.txt`` (abstract and vector artwork is left out) to
DIR, which the trainer reads. Nothing here is committed to the repository.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..paths import RESOURCES
from ..photos.atomic import copy_atomic

PHOTO_LIST = RESOURCES / "debian_photos.txt"


def read_photo_list(path: Path = PHOTO_LIST) -> dict[str, list[str]]:
    """{package: [path inside the package, ...]} from the list file
    (lines ``package path``; ``#`` comments)."""
    wanted: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, member = line.split(maxsplit=1)
            wanted.setdefault(package, []).append(member)
    return wanted


def _largest(folder: Path) -> Path:
    """Plasma wallpapers ship one picture at many sizes: take the biggest file."""
    files = [p for p in folder.iterdir() if p.is_file()]
    if not files:
        raise FileNotFoundError(f"{folder}: no pictures")
    return max(files, key=lambda p: p.stat().st_size)


TOOLS = ("apt-get", "dpkg-deb")


class FetchError(RuntimeError):
    """Why the photos cannot be fetched, in one line saying what to do."""


def fetch_debian_photos(out_dir: Path, list_file: Path = PHOTO_LIST) -> list[Path]:
    """Download, unpack, select; returns the written files. Raises FetchError."""
    wanted = read_photo_list(list_file)
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise FetchError(f"{out_dir} exists and is not a folder; give a new or existing folder")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise FetchError(f"fetch-data needs {' and '.join(missing)} (Debian or Ubuntu), not found here; fetch on "
                         "a Debian machine or container and copy the folder over, or train on your own photos")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create the folder {out_dir} ({exc.strerror or exc})") from None
    try:
        return _fetch(wanted, out_dir)
    except subprocess.CalledProcessError as exc:
        raise FetchError(f"{' '.join(exc.cmd)} failed (exit {exc.returncode}); is the package index reachable? "
                         "try `apt-get update` first") from None
    except OSError as exc:
        raise FetchError(f"cannot write to {out_dir} ({exc.strerror or exc})") from None


def _fetch(wanted: dict[str, list[str]], out_dir: Path) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for package, members in wanted.items():
            print(f"apt-get download {package}", file=sys.stderr)
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True)
            deb = next(tmp.glob(f"{package}_*.deb"))
            root = tmp / package
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            for member in members:
                src = root / member.lstrip("/")
                if src.is_dir():
                    # .../wallpapers/NAME/contents/images -> NAME
                    name = src.parent.parent.name if src.name == "images" else src.name
                    src = _largest(src)
                else:
                    name = src.stem
                if not src.is_file():
                    print(f"warning: {package} has no {member}", file=sys.stderr)
                    continue
                dst = out_dir / f"{package}--{name}{src.suffix.lower()}"
                copy_atomic(src, dst)
                written.append(dst)
    print(f"wrote {len(written)} photos to {out_dir}", file=sys.stderr)
    return written
