"""Atomic writes: every file the project writes (results, masks, manifests,
reports, checkpoints, logs) goes to a hidden temp file next to the target and
is renamed over it, so a crash or a full disk never leaves a half-written file."""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Iterator

TEMP_SUFFIX = ".inpaint-tmp"  # never an image suffix, so a leftover is never taken for a photo


def temp_name(name: str, token: str | None = None) -> str:
    """The hidden temp file name for target ``name``: ``.NAME.TOKEN.xxxxxxxx.inpaint-tmp``
    (``TOKEN`` is the batch run's own token, so its clean-up can tell its own
    leftovers from anything else; without one, ``.NAME.xxxxxxxx.inpaint-tmp``)."""
    middle = f"{token}.{uuid.uuid4().hex[:8]}" if token else uuid.uuid4().hex[:8]
    return f".{name}.{middle}{TEMP_SUFFIX}"


@contextlib.contextmanager
def atomic_target(out: str | os.PathLike, token: str | None = None) -> Iterator[Path]:
    """Yield a hidden temp path next to ``out``; on success it is fsynced and
    renamed over ``out`` (atomic on one file system); on failure removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(temp_name(out.name, token))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def copy_atomic(src: str | os.PathLike, out: str | os.PathLike, token: str | None = None) -> None:
    """Copy the bytes (and times) of ``src`` to ``out`` atomically; only a
    regular file is copied (a FIFO or device would block or never end)."""
    if not stat.S_ISREG(os.stat(src).st_mode):
        raise OSError(f"{src}: not a regular file; not copied")
    with atomic_target(out, token) as tmp:
        shutil.copy2(src, tmp)
