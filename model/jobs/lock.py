"""One batch run at a time per output folder (``OutputLock``), and the
clean-up of the temp files a killed run left (``remove_stale_temps``)."""
from __future__ import annotations

import errno
import json
import os
import re
import socket
import stat
import time
from pathlib import Path

from ..paths import real_path
from ..photos.atomic import TEMP_SUFFIX
from .errors import BatchError

try:  # POSIX: the kernel drops the lock when the process dies, so a stale lock never blocks
    import fcntl
except ImportError:  # Windows: the pid in the lock file tells a live run from a stale lock
    fcntl = None

LOCK_NAME = ".inpaint-lock"  # held for the whole run: one batch per output folder
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a symlink planted as the lock file is never followed
_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)  # flock: another holder


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl+C there
        import ctypes
        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(path: Path) -> dict:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _lock_pid(info: dict) -> int:
    """The pid a lock file records (0 when it is missing or garbled)."""
    try:
        return int(info.get("pid", 0) or 0)
    except (TypeError, ValueError):
        return 0


def busy_message(folder: Path, info: dict) -> str:
    pid = info.get("pid", "?")
    since = f", started {info['started']}" if info.get("started") else ""
    return (f"another batch run (pid {pid}{since}) is writing to the output folder {folder}; wait for it to "
            f"finish or choose another output folder (its lock: {folder / LOCK_NAME})")


class OutputLock:
    """An exclusive lock on an output folder for one batch run: the file
    ``.inpaint-lock`` holds the run's pid, host, start time and temp-file
    token. On POSIX an ``flock`` on it is the lock (the kernel releases it when
    the process dies, so a killed run's file is a stale lock and is taken
    over); elsewhere a lock file whose pid is no longer alive is stale."""

    def __init__(self, folder: Path, token: str):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.token = token
        self._fd: int | None = None

    def acquire(self) -> dict:
        """Take the lock; return the stale lock's contents ({} if none).
        Raises BatchError while another run holds it."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), "token": self.token,
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        data = json.dumps(info).encode()
        if fcntl is None:
            return self._acquire_by_pid(data)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in _BUSY:  # a file system without flock (some network shares)
                    return self._acquire_by_pid(data)
                raise BatchError(busy_message(self.folder, _read_lock(self.path))) from None
            try:  # the file we locked may have been removed by the run that just ended: lock the new one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        stale = _read_lock(self.path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        self._fd = fd
        return stale

    def _acquire_by_pid(self, data: bytes) -> dict:
        stale: dict = {}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
            except FileExistsError:
                held = _read_lock(self.path)
                if held.get("host", socket.gethostname()) == socket.gethostname() and \
                        not _pid_alive(_lock_pid(held)):
                    stale = stale or held
                    try:
                        os.unlink(self.path)  # stale: the run that wrote it is gone
                    except FileNotFoundError:
                        pass
                    continue
                raise BatchError(busy_message(self.folder, held)) from None
            os.write(fd, data)
            os.close(fd)
            self._fd = -1
            return stale
        raise BatchError(busy_message(self.folder, _read_lock(self.path)))

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it (see acquire's inode check)
        except OSError:
            pass
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = None


def lock_holder(folder: Path) -> dict | None:
    """The lock file's contents when a live run holds ``folder``, else None
    (a quick check before the model is loaded)."""
    path = Path(folder) / LOCK_NAME
    if not path.is_file():
        return None
    info = _read_lock(path)
    if fcntl is None:
        return info if _pid_alive(_lock_pid(info)) else None
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _BUSY:
            return info
        return info if _pid_alive(_lock_pid(info)) else None
    finally:
        os.close(fd)  # closing drops a lock we took
    return None


_TOKEN = re.compile(r"^[0-9a-f]{12}$")


def remove_stale_temps(folder: Path, token: str, keep_out: tuple[Path, ...] = (),
                        report: Path | None = None) -> list[Path]:
    """Remove the temp files the run with ``token`` (killed: its lock was stale)
    left behind: only names ``.NAME.<token>.xxxxxxxx.inpaint-tmp``, only in
    the output folder tree (symlinked folders and ``keep_out`` folders, the
    inputs, are never entered) and next to the report."""
    if not _TOKEN.match(token or ""):
        return []
    ours = re.compile(rf"^\..+\.{token}\.[0-9a-f]{{8}}{re.escape(TEMP_SUFFIX)}$")
    protected = {real_path(p) for p in keep_out}
    removed = []

    def remove(path: Path) -> None:
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(path)
        except OSError:
            pass

    if real_path(folder) not in protected:
        for root, dirs, files in os.walk(folder):  # does not follow symlinked folders
            dirs[:] = [d for d in dirs if real_path(Path(root) / d) not in protected]
            for f in files:
                if ours.match(f):
                    remove(Path(root) / f)
    if report is not None:
        prefix = f".{Path(report).name}."
        try:
            names = os.listdir(Path(report).parent)
        except OSError:
            names = []
        for f in names:
            if f.startswith(prefix) and ours.match(f) and real_path(Path(report).parent) not in protected:
                remove(Path(report).parent / f)
    return removed
