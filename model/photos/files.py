"""Photo files: which names are photos, listing a folder of them, and how a
result is named. The one place for each rule, so the batch, the trainer, the
watermark estimate, the evaluation and the GUI's file dialogs agree."""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..paths import is_inside, real_path

# The suffixes read as photos (lower case); the GUI builds its file filters from them.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
CLEANED = "_cleaned"  # added to a result's name: photo.jpg -> photo_cleaned.jpg, photos/ -> photos_cleaned/


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def cleaned_path(source: str | os.PathLike, suffix: str | None = None) -> Path:
    """The default result name of one photo: ``NAME_cleaned.EXT`` next to it
    (``suffix`` replaces ``.EXT`` when the result is saved in another format)."""
    source = Path(source)
    return source.with_name(f"{source.stem}{CLEANED}{source.suffix if suffix is None else suffix}")


def cleaned_folder(input_dir: str | os.PathLike) -> Path:
    """The default output folder of a batch: ``INPUT_DIR_cleaned`` next to the input."""
    input_dir = Path(input_dir).resolve()
    return input_dir.parent / f"{input_dir.name}{CLEANED}"


def special_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def list_photos(folder: str | os.PathLike, exclude: tuple[Path, ...] = (), recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (recursively unless ``recursive`` is False),
    sorted by relative path; hidden files and folders (".*", e.g. macOS
    "._x.jpg") and ``exclude`` folders are left out. Symlinked folders are not
    entered; entries are listed by name only (see ``entry_problem`` for what
    may be read)."""
    return walk_photos(folder, exclude, recursive)[0]


def readable_photos(folder: str | os.PathLike, exclude: tuple[Path, ...] = (),
                    recursive: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The photos of ``folder`` that may be opened, and (path, reason) for each
    entry that may not: a symlink resolving outside ``folder``, a symlinked
    folder, a FIFO or device, a dangling link or loop. The one lister of every
    job that reads a folder (watermark estimate, training, evaluation); the
    batch plans with the same two rules (``walk_photos`` + ``entry_problem``)."""
    folder = Path(folder)
    photos, linked = walk_photos(folder, exclude, recursive)
    refused = [(d, "symlinked folder: not followed") for d in linked]
    usable = []
    for path in photos:
        problem = entry_problem(path, folder)
        if problem is None:
            usable.append(path)
        else:
            refused.append((path, problem[1]))
    return usable, refused


def walk_photos(folder: str | os.PathLike, exclude: tuple[Path, ...] = (),
                recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """(image entries, symlinked folders not entered) under ``folder``."""
    folder = Path(folder)
    excluded = {real_path(p) for p in exclude}
    photos, linked = [], []
    for root, dirs, files in os.walk(folder):  # never follows symlinked folders
        kept = []
        for d in sorted(dirs):
            full = Path(root) / d
            if d.startswith(".") or real_path(full) in excluded:
                continue
            if os.path.islink(full):
                linked.append(full)
                continue
            kept.append(d)
        dirs[:] = kept if recursive else []
        photos.extend(Path(root) / f for f in files if not f.startswith(".") and is_image_file(f))
    key = lambda p: p.relative_to(folder).as_posix()  # noqa: E731
    return sorted(photos, key=key), sorted(linked, key=key) if recursive else []


def entry_problem(path: Path, root: Path) -> tuple[str, str] | None:
    """Why ``path`` (listed under ``root``) must not be read, or None.

    ("skip", reason) for a symlink that resolves outside ``root`` (never
    followed) and for anything but a regular file (a FIFO, socket or device
    would block the run); ("fail", reason) for a symlink loop or a dangling
    symlink."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path, strict=True)
            if not is_inside(Path(target), root):
                return "skip", f"symlink to {target}, outside {root}: not followed"
            st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "fail", "symlink loop (the link points back to itself)"
        if isinstance(exc, FileNotFoundError):
            return "fail", "symlink to a missing file"
        return "fail", f"cannot read ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return "skip", f"not a regular file ({special_kind(st.st_mode)}): not read"
    return None
