"""Batch cleaning of a folder: ``python main.py batch`` (``model/cli/batch.py``)
and the GUI's batch dialog (``run_batch`` on a worker thread).

Guarantees: inputs (the photo folder, the mask file or folder) are never
written to: outputs and reports overlapping them are refused; every output is
written to a temp file named with the run's token and renamed (an interrupted
run leaves no half-written photo; the next run removes exactly that run's
temps); one run at a time per output folder (``OutputLock``); a manifest in
the output folder lets ``resume`` skip finished photos; symlinks leading out of
the input and special files are skipped, never read; a bad file is reported
and never stops the run. Photos are decoded on a background thread and
written on another while the model runs. The rules: docs/batch.md.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import re
import secrets
import socket
import stat
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..masks import check_hole_fraction
from ..paths import is_inside, link_inside, path_relation, real_path
from ..photos.atomic import TEMP_SUFFIX, atomic_target, copy_atomic
from ..photos.files import cleaned_folder, entry_problem, is_image_file, list_photos, walk_photos
from ..photos.imageio import ImageReadError, Photo, read_mask, read_photo
from ..photos.savefile import restore_like, save_pixels, write_encoded
from .options import MASK_FITS, MISSING, BatchOptions  # noqa: F401 (re-exported)

try:  # POSIX: the kernel drops the lock when the process dies, so a stale lock never blocks
    import fcntl
except ImportError:  # Windows: the pid in the lock file tells a live run from a stale lock
    fcntl = None

MANIFEST_NAME = ".inpaint-manifest.jsonl"
LOCK_NAME = ".inpaint-lock"  # held for the whole run: one batch per output folder
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)  # flock: another holder  # a symlink planted as the lock file is never followed
NO_MASK = "no mask for this photo"
MISSES_PHOTO = "the mask does not touch this photo"
PREFETCH = 2  # decoded photos waiting for the model (each 12 MP photo is ~70 MB)


class BatchError(ValueError):
    """A usage problem: bad options, folders that overlap, a missing mask."""


@dataclass
class BatchProgress:
    done: int  # files handled so far (any outcome)
    total: int
    path: str  # the file just handled
    status: str  # for people: "done", "copied", "skipped: ...", "resumed", "failed: reason"
    # for code (the GUI's dialog), so nobody parses ``status``:
    outcome: str = ""  # done | copied | skipped | resumed | failed
    reason: str = ""
    workers: int = 0  # a cluster run's workers at work now (0 for a local run)


@dataclass
class FileRecord:
    path: str  # the input file
    relpath: str
    status: str  # done | copied | skipped | resumed | failed
    reason: str = ""
    output: str | None = None
    seconds: float = 0.0
    decode_s: float = 0.0
    model_s: float = 0.0
    encode_s: float = 0.0
    confidence: float | None = None  # model.confidence: low = review this result first


@dataclass
class BatchSummary:
    done: int = 0  # photos cleaned
    skipped: int = 0  # resumed (finished before) or without a mask (--missing skip)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0
    records: list[FileRecord] = field(default_factory=list)
    copied: int = 0  # written unchanged (no mask for them, or the mask misses them)
    total: int = 0
    stopped: bool = False  # should_stop / Ctrl+C ended the run early
    output_dir: str = ""
    report_error: str = ""  # the report could not be written (the summary itself is complete)

    def to_json(self) -> dict:
        return {"output_dir": self.output_dir, "total": self.total, "done": self.done, "copied": self.copied,
                "skipped": self.skipped, "failed": len(self.failed), "stopped": self.stopped,
                "seconds": round(self.seconds, 3), "files": [asdict(r) for r in self.records]}


# ------------------------------------------------------------ validation

def _inputs(options: BatchOptions) -> list[tuple[str, Path]]:
    """What the run reads (and so must never write): (what, path)."""
    items = [("photo folder", Path(options.input_dir))]
    if options.mask is not None and not options.mask_is_generated:
        items.append(("mask file", Path(options.mask)))
    if options.masks_dir is not None:
        items.append(("mask folder", Path(options.masks_dir)))
    return items


def validate_options(options: BatchOptions) -> Path:
    """Check ``options``; return the output folder. Raises BatchError.

    Inputs (the photo folder, the mask file, the mask folder) are read-only:
    an output folder that is, contains or lies inside one of them is refused,
    and so is a report file that is one of them or lies inside one."""
    src = Path(options.input_dir)
    if not src.is_dir():
        raise BatchError(f"input folder not found: {src}")
    if (options.mask is None) == (options.masks_dir is None):
        raise BatchError("give exactly one of a mask (--mask) or a mask folder (--masks)")
    if options.mask is not None and not options.mask_is_generated:  # a generated one is written under the lock
        if not os.path.lexists(options.mask):
            raise BatchError(f"mask file not found: {options.mask}")
        try:
            hole = read_mask(options.mask)
        except ImageReadError as exc:
            raise BatchError(f"cannot read the mask: {exc}") from None
        if not hole.any():
            raise BatchError(f"the mask {options.mask} is empty (all black): nothing to remove")
        try:
            check_hole_fraction(hole)
        except ValueError as exc:
            raise BatchError(f"the mask {options.mask}: {exc}") from None
    if options.masks_dir is not None and not Path(options.masks_dir).is_dir():
        raise BatchError(f"mask folder not found: {options.masks_dir}")
    if options.mask_fit not in MASK_FITS:
        raise BatchError(f"unknown mask fit {options.mask_fit!r}; choose from {', '.join(MASK_FITS)}")
    if options.missing not in MISSING:
        raise BatchError(f"unknown --missing {options.missing!r}; choose copy or skip")
    if options.quality is not None and not 1 <= int(options.quality) <= 100:
        raise BatchError(f"quality must be 1-100, got {options.quality}")
    if options.workers is not None and options.cluster is None:
        raise BatchError("--workers is for a cluster run: give --cluster ADDRESS (or auto) too")
    if options.workers is not None and int(options.workers) < 1:
        raise BatchError(f"--workers must be 1 or more, got {options.workers}")
    out = Path(options.output_dir) if options.output_dir is not None else cleaned_folder(src)
    for what, path in _inputs(options):
        relation = path_relation(out, path)
        if relation is not None:
            raise BatchError(f"the output folder {out} {relation} the {what} {path}; choose a separate "
                             "folder (inputs are never written to)")
    if out.exists() and not out.is_dir():
        raise BatchError(f"the output path {out} exists and is not a folder")
    if options.report is not None:
        report = Path(options.report)
        for what, path in _inputs(options):
            relation = path_relation(report, path)
            if relation in ("is", "lies inside"):
                raise BatchError(f"the report {report} {relation} the {what} {path}; "
                                 "write it elsewhere (inputs are never written to)")
        if report.is_dir() or real_path(report) == real_path(out):
            raise BatchError(f"the report {report} is a folder; give a file name such as report.json")
        problem = _report_collision(report, out, src)
        if problem:
            raise BatchError(f"the report {report} {problem}; write it elsewhere, e.g. {out.parent / 'report.json'}")
    return out


def _report_collision(report: Path, out: Path, src: Path) -> str | None:
    """Why ``report`` could land on something the run writes in ``out``, or None:
    a cleaned photo (any image name: it may be an output), a file or folder the
    input has at the same relative path, or the run's own files."""
    if path_relation(report, out) != "lies inside":
        return None
    rel = real_path(report).relative_to(real_path(out))
    if rel.parts[0].startswith(".inpaint") or rel.name.startswith(".inpaint"):
        return f"would replace the batch's own {rel.as_posix()}"
    if is_image_file(report):
        return "has a photo's name inside the output folder, where it could replace a cleaned photo"
    if os.path.lexists(src / rel):
        return f"would land where the output of {src / rel} goes"
    return None


# -------------------------------------------------------------- the jobs

@dataclass
class _Job:
    path: Path
    rel: Path
    out: Path
    mask: Path | None  # the per-photo mask (masks_dir) or the shared one
    action: str  # "clean", "copy", "skip", "resumed"
    reason: str = ""


def _mask_index(masks_dir: Path) -> dict[tuple[str, str], Path]:
    """(relative folder, stem) -> mask file; PNG first when several share a stem."""
    index: dict[tuple[str, str], Path] = {}
    order = {s: i for i, s in enumerate((".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg"))}
    masks_dir = Path(masks_dir)
    for path in sorted(list_photos(masks_dir), key=lambda p: order.get(p.suffix.lower(), 9)):
        key = (path.parent.relative_to(masks_dir).as_posix(), path.stem)
        index.setdefault(key, path)
    return index


def find_mask(index: dict[tuple[str, str], Path], rel: Path) -> Path | None:
    """The mask for photo ``rel``: same relative folder and stem, else the
    same stem at the top of the mask folder."""
    return index.get((rel.parent.as_posix(), rel.stem)) or index.get((".", rel.stem))


def fit_mask(hole: np.ndarray, height: int, width: int, rule: str) -> np.ndarray:
    """Map a bool hole map onto a ``height`` x ``width`` photo by ``rule``.

    ``stretch`` scales it (any covered pixel stays a hole, so a thin
    watermark is never lost); ``anchor-*`` keeps its pixel size and pins it
    to a corner or the centre (watermarks sit at a fixed size in a corner),
    cropping what falls outside; ``error`` refuses a different size."""
    mh, mw = hole.shape
    if (mh, mw) == (height, width):
        return hole
    if rule == "error":
        raise ValueError(f"mask is {mw}x{mh} but the photo is {width}x{height} "
                         "(use --mask-fit to map it)")
    if rule == "stretch":
        interp = cv2.INTER_AREA if width * height < mw * mh else cv2.INTER_LINEAR
        return cv2.resize(hole.astype(np.float32), (width, height), interpolation=interp) > 0
    if rule not in MASK_FITS:
        raise ValueError(f"unknown mask fit {rule!r}")
    where = rule.removeprefix("anchor-")
    oy = 0 if "top" in where else (height - mh if "bottom" in where else (height - mh) // 2)
    ox = 0 if "left" in where else (width - mw if "right" in where else (width - mw) // 2)
    out = np.zeros((height, width), bool)
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + mh, height), min(ox + mw, width)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = hole[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return out


class MaskFitter:
    """Each photo's mask fitted to it by ``rule`` (``fit_mask``); the shared
    mask (--mask) is fitted once per photo size."""

    def __init__(self, shared_hole: np.ndarray | None, rule: str):
        self.shared_hole, self.rule = shared_hole, rule
        self.fitted: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, mask: Path | None, height: int, width: int) -> np.ndarray:
        if self.shared_hole is None:
            return fit_mask(read_mask(mask), height, width, self.rule)
        if (height, width) not in self.fitted:
            self.fitted[(height, width)] = fit_mask(self.shared_hole, height, width, self.rule)
        return self.fitted[(height, width)]


# ---------------------------------------------------- one photo's cleaning
# What a local run and a cluster worker (model/jobs/cluster.py) both do for a
# photo, so that their outputs are the same bytes.

class PhotoError(Exception):
    """This photo cannot be cleaned; the message is the reason listed for it."""


@dataclass
class Cleaned:
    result: np.ndarray | None  # RGB uint8; None: copy the source (the mask misses it, or the filler says why)
    confidence: float | None  # model.confidence: low = review this result first
    model_s: float
    reason: str = ""  # why the source is copied, when the filler left it alone


def clean_photo(photo: Photo, mask: Path | None, fit: MaskFitter, inpainter) -> Cleaned:
    """Fit the mask to ``photo`` and run the model. Raises PhotoError."""
    h, w = photo.rgb.shape[:2]
    try:
        hole = fit(mask, h, w)
        check_hole_fraction(hole)
    except (ValueError, ImageReadError) as exc:
        raise PhotoError(str(exc)) from None
    t0 = time.perf_counter()
    try:
        full = inpainter(photo.rgb, hole) if hole.any() else None
        result = getattr(full, "refined", full)
        confidence, reason = None, ""
        if full is not None and result is None:  # e.g. a photo without the watermark: copied as is
            reason = getattr(full, "reason", "")
        elif full is not None:
            from ..confidence import fill_confidence
            confidence = round(fill_confidence(photo.rgb, hole, result, getattr(full, "coarse", None)), 4)
    except Exception as exc:  # out of memory on a huge photo etc.: this photo only
        raise PhotoError(f"removal failed: {type(exc).__name__}: {exc}") from None
    return Cleaned(result, confidence, time.perf_counter() - t0, reason)


def encode_result(result: np.ndarray, photo: Photo, out: Path, quality: int | None, token: str | None = None) -> None:
    """Write ``result`` into ``photo``'s own pixels and save it to ``out`` like the source (atomically)."""
    save_pixels(restore_like(result, photo), out, photo.meta, quality, token)


@dataclass
class Encoded:
    """A result already encoded in its output's format (a cluster worker's answer)."""
    data: bytes


# --------------------------------------------------------------- manifest

class Manifest:
    """Finished files, one JSON line each, appended and fsynced after each
    file. Appending keeps the cost per file constant for 5,000-photo runs
    (rewriting one JSON file each time would not); a line torn by a kill is
    simply ignored, so the file is always consistent. The first line names
    the job (mask, fit, quality): entries of another job are not trusted."""

    def __init__(self, folder: Path, job: str, resume: bool, token: str | None = None):
        self.path = folder / MANIFEST_NAME
        self.job = job
        self.entries: dict[str, dict] = {}
        if resume and self.path.is_file() and not self.path.is_symlink():  # a planted link is replaced, never read
            self._read()
        folder.mkdir(parents=True, exist_ok=True)
        if not self.entries:  # a fresh start: a new manifest for this job
            with atomic_target(self.path, token) as tmp:
                tmp.write_text(json.dumps({"job": job}) + "\n")
        self._file = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def _read(self) -> None:
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        try:
            head = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            head = {}
        if head.get("job") != self.job:
            return  # another mask or settings: redo everything
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                self.entries[entry["rel"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # torn by an interruption

    def finished(self, rel: str, src: Path, out: Path, mask: Path | None) -> bool:
        """True when ``out`` was written for this very source (and mask) and
        still has the size it was written with."""
        e = self.entries.get(rel)
        if not e:
            return False
        try:
            ok = e.get("size") == out.stat().st_size
            return ok and e.get("src") == _signature(src) and e.get("mask") == _signature(mask)
        except OSError:
            return False

    def add(self, rel: str, src: Path, out: Path, mask: Path | None, status: str) -> None:
        line = json.dumps({"rel": rel, "status": status, "size": out.stat().st_size,
                           "src": _signature(src), "mask": _signature(mask)})
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _signature(path: Path | None) -> list[int] | None:
    """Size and modification time: a source or mask edited since is redone."""
    if path is None:
        return None
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _job_key(options: BatchOptions) -> str:
    """Identifies what a finished output depends on besides its source."""
    h = hashlib.sha256()
    if options.mask is not None:
        h.update(Path(options.mask).read_bytes())
    else:
        h.update(str(Path(options.masks_dir).resolve()).encode())
    h.update(f"|{options.mask_fit}|{options.quality}|{options.missing}".encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------ the lock

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


def _remove_stale_temps(folder: Path, token: str, keep_out: tuple[Path, ...] = (),
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


# ---------------------------------------------------------------- running

def _plan(options: BatchOptions, out_dir: Path, manifest: Manifest) -> list[_Job]:
    src = Path(options.input_dir)
    exclude = tuple(p for p in (options.masks_dir, out_dir) if p is not None)
    index = _mask_index(Path(options.masks_dir)) if options.masks_dir is not None else None
    jobs = []
    photos, linked = walk_photos(src, exclude)
    for folder in linked:
        rel = folder.relative_to(src)
        jobs.append(_Job(folder, rel, out_dir / rel, None, "skip", "symlinked folder: not followed"))
    for path in photos:
        rel = path.relative_to(src)
        out = out_dir / rel
        mask = Path(options.mask) if index is None else find_mask(index, rel)
        if options.mask is not None and real_path(path) == real_path(options.mask):
            continue  # the mask itself lies in the photo folder
        problem = entry_problem(path, src)
        if problem is None and mask is not None and index is not None:
            mask_problem = entry_problem(mask, Path(options.masks_dir))
            if mask_problem is not None:
                problem = (mask_problem[0], f"its mask {mask}: {mask_problem[1]}")
        if problem is not None:
            jobs.append(_Job(path, rel, out, mask, problem[0], problem[1]))
        elif is_inside(out, src):  # never overwrite a source (validate_options refuses such folders)
            jobs.append(_Job(path, rel, out, mask, "fail", "the output would be written into the input folder"))
        elif manifest.finished(rel.as_posix(), path, out, mask):
            jobs.append(_Job(path, rel, out, mask, "resumed", "finished by an earlier run"))
        elif mask is None:
            action = "copy" if options.missing == "copy" else "skip"
            jobs.append(_Job(path, rel, out, None, action, NO_MASK))
        else:
            jobs.append(_Job(path, rel, out, mask, "clean"))
    return jobs


def _decoder(jobs: list[_Job], q: queue.Queue, stop: threading.Event) -> None:
    """Decode the photos to clean, in order, ahead of the model."""
    for job in jobs:
        if stop.is_set():
            break
        item: tuple = (job, None, None, 0.0)
        if job.action == "clean":
            t0 = time.perf_counter()
            try:
                item = (job, read_photo(job.path), None, time.perf_counter() - t0)
            except ImageReadError as exc:
                item = (job, None, str(exc), time.perf_counter() - t0)
            except Exception as exc:  # a decoder bug or out of memory: this photo only
                item = (job, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                break
            except queue.Full:
                continue
    q.put(None)  # end marker (the consumer drains, so this never blocks for long)


def run_batch(options: BatchOptions, inpainter, progress: Callable[[BatchProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchSummary:
    """Clean every photo of ``options.input_dir`` with ``inpainter`` (an
    ``Inpainter`` or any callable ``(image, mask) -> result.refined``).

    ``progress`` is called after each file, from a writer thread; ``should_stop``
    is checked between photos (the current photo is finished first). An
    inpainter with files of its own for the output folder (the watermark
    restorer's estimate) writes them in ``prepare_output(out_dir)``, called
    once the lock is held, so a refused run writes nothing."""
    if options.cluster:  # never silently run on this machine what was meant for a cluster
        raise BatchError("options.cluster is set: run it with model.jobs.cluster.run_cluster_batch")
    return run_locked(options, lambda out_dir, token: _BatchRun(options, inpainter, progress, out_dir, token),
                      should_stop, getattr(inpainter, "prepare_output", None))


def run_locked(options: BatchOptions, start: Callable[[Path, str], "_BatchRun"],
               should_stop: Callable[[], bool] | None = None,
               prepare_output: Callable[[Path], None] | None = None) -> BatchSummary:
    """Validate, take the output folder's lock, remove a killed run's temps,
    let ``prepare_output(out_dir)`` write the run's own files (only now, so a
    refused run writes nothing), then run ``start(out_dir, token)`` (a local
    run, or model/jobs/cluster.py's)."""
    out_dir = validate_options(options)
    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)  # names this run's temp files
    out_lock = OutputLock(out_dir, token)
    stale = out_lock.acquire()
    try:
        _remove_stale_temps(out_dir, str(stale.get("token", "")), tuple(p for _, p in _inputs(options)),
                            options.report)
        if prepare_output is not None:
            prepare_output(out_dir)
        return start(out_dir, token).run(should_stop, t_start)
    finally:
        out_lock.release()


class _BatchRun:
    """One run over the planned jobs, with the output folder locked: the main
    thread fits masks and runs the model (``clean``), a decoder thread reads
    photos ahead of it (``_decoder``) and a writer thread encodes and renames
    the results into place (``write``); ``finish`` records each file's outcome
    (from both threads, under a lock, so progress arrives in order)."""

    def __init__(self, options: BatchOptions, inpainter, progress: Callable[[BatchProgress], None] | None,
                 out_dir: Path, token: str):
        self.options, self.inpainter, self.progress, self.token = options, inpainter, progress, token
        self.out_dir = out_dir
        self.manifest = Manifest(out_dir, _job_key(options), options.resume, token)
        self.summary = BatchSummary(output_dir=str(out_dir))
        self.jobs = _plan(options, out_dir, self.manifest)
        self.summary.total = len(self.jobs)
        self.lock = threading.Lock()
        self.shared_hole = read_mask(options.mask) if options.mask is not None else None
        self.fit = MaskFitter(self.shared_hole, options.mask_fit)
        self.writes: queue.Queue = queue.Queue(maxsize=PREFETCH)
        self.writer_errors: list[BaseException] = []

    def finish(self, job: _Job, status: str, reason: str = "", **times: float) -> None:
        reason = reason.removeprefix(f"{job.path}: ")  # the path is listed next to it anyway
        record = FileRecord(str(job.path), job.rel.as_posix(), status, reason,
                            str(job.out) if status in ("done", "copied", "resumed") else None, **times)
        record.seconds = sum(times.values())
        record.confidence = getattr(job, "confidence", None)
        summary = self.summary
        with self.lock:
            summary.records.append(record)
            if status == "done":
                summary.done += 1
            elif status == "copied":
                summary.copied += 1
            elif status in ("skipped", "resumed"):
                summary.skipped += 1
            else:
                summary.failed.append((str(job.path), reason))
            if self.progress is not None:  # under the lock: reports arrive in order from both threads
                shown = status if not reason or status in ("done", "resumed") else f"{status}: {reason}"
                self.progress(BatchProgress(len(summary.records), summary.total, str(job.path), shown, status,
                                            reason))

    def write(self, job: _Job, photo: Photo | None, result: np.ndarray | None, times: dict) -> None:
        """On the writer thread: encode, rename into place, record."""
        t0 = time.perf_counter()
        try:
            link = link_inside(job.out, self.out_dir)
            if link is not None:  # e.g. out/sub -> ../elsewhere: writing there would leave the output folder
                raise OSError(f"{link} is a symbolic link inside the output folder; results are never "
                              "written through one")
            if isinstance(result, Encoded):  # encoded by a cluster worker: checked on the way to the disk
                write_encoded(result.data, job.out, self.token)
                status = "done"
            elif photo is None:
                copy_atomic(job.path, job.out, self.token)
                status = "copied"
            elif result is None:  # the mask misses this photo: the original bytes are the best copy
                copy_atomic(job.path, job.out, self.token)
                status, job.reason = "copied", job.reason or MISSES_PHOTO
            else:
                encode_result(result, photo, job.out, self.options.quality, self.token)
                status = "done"
            self.manifest.add(job.rel.as_posix(), job.path, job.out, job.mask, status)
        except Exception as exc:
            self.finish(job, "failed", f"cannot write {job.out}: {exc}", **times)
            return
        times = dict(times)  # a cluster worker's encoding time comes in times
        self.finish(job, status, job.reason if status == "copied" else "",
                    encode_s=times.pop("encode_s", 0.0) + time.perf_counter() - t0, **times)

    def sort_records(self) -> None:
        """Records (and failures) in plan order, whichever thread or worker
        finished each file first: a run's report does not depend on timing."""
        rank = {str(job.path): i for i, job in enumerate(self.jobs)}
        self.summary.records.sort(key=lambda r: rank.get(r.path, len(rank)))
        self.summary.failed.sort(key=lambda f: rank.get(f[0], len(rank)))

    def _writer(self) -> None:
        while (item := self.writes.get()) is not None:
            try:
                self.write(*item)
            except Exception as exc:  # e.g. a progress callback that raised: keep draining, re-raise later
                self.writer_errors.append(exc)

    def clean(self, job: _Job, photo: Photo, decode_s: float) -> None:
        """Fit the mask and run the model for one decoded photo (main thread)."""
        try:
            cleaned = clean_photo(photo, job.mask, self.fit, self.inpainter)
        except PhotoError as exc:
            self.finish(job, "failed", str(exc), decode_s=decode_s)
            return
        job.confidence = cleaned.confidence
        if cleaned.result is None and cleaned.reason:
            job.reason = cleaned.reason  # e.g. a photo without the watermark: copied as is
        self.writes.put((job, photo, cleaned.result, {"decode_s": decode_s, "model_s": cleaned.model_s}))

    def settle(self, job: _Job) -> bool:
        """Record a job that needs no model (resumed, skipped, refused, or
        copied: handed to the writer); False for a photo to clean."""
        if job.action == "resumed":
            self.finish(job, "resumed", job.reason)
        elif job.action == "skip":
            self.finish(job, "skipped", job.reason)
        elif job.action == "fail":
            self.finish(job, "failed", job.reason)
        elif job.action == "copy":
            self.writes.put((job, None, None, {}))
        else:
            return False
        return True

    def run(self, should_stop: Callable[[], bool] | None, t_start: float) -> BatchSummary:
        summary, options = self.summary, self.options
        decoded: queue.Queue = queue.Queue(maxsize=PREFETCH)
        stop_decoding = threading.Event()
        threads = [threading.Thread(target=_decoder, args=(self.jobs, decoded, stop_decoding), daemon=True,
                                    name="batch-decode"),
                   threading.Thread(target=self._writer, daemon=True, name="batch-write")]
        for t in threads:
            t.start()
        try:
            while (item := decoded.get()) is not None:
                job, photo, error, decode_s = item
                if self.settle(job):
                    pass
                elif error is not None:
                    self.finish(job, "failed", error, decode_s=decode_s)
                else:
                    self.clean(job, photo, decode_s)
                if should_stop is not None and should_stop():
                    summary.stopped = True
                    break
        finally:
            stop_decoding.set()
            while True:  # let the decoder see the stop and end
                try:
                    if decoded.get(timeout=0.05) is None:
                        break
                except queue.Empty:
                    if not threads[0].is_alive():
                        break
            self.writes.put(None)
            threads[1].join()  # every photo handed over is written before we return
            self.manifest.close()
            self.sort_records()
            summary.seconds = time.perf_counter() - t_start
            if options.report is not None:
                try:
                    _write_report(Path(options.report), summary, self.token)
                except OSError as exc:  # a full disk: the summary is still returned (and printed first)
                    summary.report_error = f"cannot write the report {options.report}: {exc.strerror or exc}"
        if self.writer_errors:
            raise self.writer_errors[0]
        return summary


def _write_report(path: Path, summary: BatchSummary, token: str | None = None) -> None:
    """Atomically (a full disk leaves the old report, or none, and no temp file)."""
    with atomic_target(path, token) as tmp:
        tmp.write_text(json.dumps(summary.to_json(), indent=1), encoding="utf-8")
