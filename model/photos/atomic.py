"""Atomic writes: every file the project writes (results, masks, manifests,
reports, checkpoints, logs) goes to a hidden temp file next to the target and
is renamed over it, so a crash or a full disk never leaves a half-written file."""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Callable, Iterator

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


class IncompleteWriteError(OSError):
    """What reached the disk is not what was written (a full disk that an
    encoder or the kernel did not report): the target is left as it was."""


def _check_written(tmp: Path, size: int, tail: bytes = b"") -> None:
    """Raise IncompleteWriteError unless ``tmp`` holds ``size`` bytes ending in ``tail``."""
    with open(tmp, "rb") as f:
        got = os.fstat(f.fileno()).st_size
        if tail and got >= len(tail):
            f.seek(got - len(tail))
            end = f.read(len(tail))
        else:
            end = tail
    if got != size or end != tail:
        raise IncompleteWriteError(errno.ENOSPC, f"incomplete write ({got} of {size} bytes reached the disk; "
                                                 "is it full?)")


def write_bytes_atomic(out: str | os.PathLike, data: bytes, token: str | None = None,
                       check: Callable[[Path], None] | None = None) -> None:
    """Write ``data`` to ``out`` atomically and make sure all of it arrived:
    every ``write`` is checked, the file is fsynced, its size and last bytes
    are read back, and ``check(tmp)`` (e.g. decoding the header) may look at
    it too, all before the rename. Some encoders (PIL's progressive JPEG) lose
    a full disk's error and leave a truncated file; this never does."""
    with atomic_target(out, token) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise IncompleteWriteError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        _check_written(tmp, len(data), bytes(data[-16:]))
        if check is not None:
            check(tmp)


def copy_atomic(src: str | os.PathLike, out: str | os.PathLike, token: str | None = None) -> None:
    """Copy the bytes (and times) of ``src`` to ``out`` atomically; only a
    regular file is copied (a FIFO or device would block or never end), and
    the copy's size is checked before the rename."""
    st = os.stat(src)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{src}: not a regular file; not copied")
    with atomic_target(out, token) as tmp:
        shutil.copy2(src, tmp)
        with open(src, "rb") as f:
            f.seek(max(st.st_size - 16, 0))
            tail = f.read()
        _check_written(tmp, st.st_size, tail)
