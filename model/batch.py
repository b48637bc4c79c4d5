"""Batch cleaning of a folder: ``python main.py batch`` and the GUI's batch
dialog (``run_batch`` on a worker thread).

Guarantees: the input folder is never written to; every output is written to
a temp file and renamed (an interrupted run leaves no half-written photo); a
manifest in the output folder lets ``resume`` skip finished photos; a bad
file is reported and never stops the run. Photos are decoded on a background
thread and written on another while the model runs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .imageio import IMAGE_SUFFIXES, ImageReadError, Photo, read_mask, read_photo
from .savefile import TEMP_SUFFIX, copy_atomic, restore_like, save_pixels

MASK_FITS = ("error", "stretch", "anchor-topleft", "anchor-topright", "anchor-bottomleft",
             "anchor-bottomright", "anchor-center")
MISSING = ("copy", "skip")
MANIFEST_NAME = ".inpaint-manifest.jsonl"
PREFETCH = 2  # decoded photos waiting for the model (each 12 MP photo is ~70 MB)


class BatchError(ValueError):
    """A usage problem: bad options, folders that overlap, a missing mask."""


@dataclass
class BatchOptions:
    input_dir: Path
    output_dir: Path | None = None  # default: INPUT_DIR_cleaned next to the input
    mask: Path | None = None  # one mask for every photo
    masks_dir: Path | None = None  # or one mask per photo, matched by relative path and stem
    mask_fit: str = "error"  # how a mask of another size maps onto a photo (MASK_FITS)
    missing: str = "copy"  # photos without a mask in masks_dir: copy unchanged or skip
    quality: int | None = None  # JPEG/WebP quality; default: estimated from each JPEG
    resume: bool = False  # skip photos a previous run finished (manifest + size)
    report: Path | None = None  # write a per-file JSON report here


@dataclass
class BatchProgress:
    done: int  # files handled so far (any outcome)
    total: int
    path: str  # the file just handled
    status: str  # "done", "copied", "skipped: ...", "resumed", "failed: reason"


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

    def to_json(self) -> dict:
        return {"output_dir": self.output_dir, "total": self.total, "done": self.done, "copied": self.copied,
                "skipped": self.skipped, "failed": len(self.failed), "stopped": self.stopped,
                "seconds": round(self.seconds, 3), "files": [asdict(r) for r in self.records]}


# ------------------------------------------------------------ validation

def default_output_dir(input_dir: Path) -> Path:
    input_dir = Path(input_dir).resolve()
    return input_dir.parent / f"{input_dir.name}_cleaned"


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def validate_options(options: BatchOptions) -> Path:
    """Check ``options``; return the output folder. Raises BatchError."""
    src = Path(options.input_dir)
    if not src.is_dir():
        raise BatchError(f"input folder not found: {src}")
    if (options.mask is None) == (options.masks_dir is None):
        raise BatchError("give exactly one of a mask (--mask) or a mask folder (--masks)")
    if options.mask is not None:
        if not Path(options.mask).is_file():
            raise BatchError(f"mask file not found: {options.mask}")
        try:
            hole = read_mask(options.mask)
        except ImageReadError as exc:
            raise BatchError(f"cannot read the mask: {exc}") from None
        if not hole.any():
            raise BatchError(f"the mask {options.mask} is empty (all black): nothing to remove")
    if options.masks_dir is not None and not Path(options.masks_dir).is_dir():
        raise BatchError(f"mask folder not found: {options.masks_dir}")
    if options.mask_fit not in MASK_FITS:
        raise BatchError(f"unknown mask fit {options.mask_fit!r}; choose from {', '.join(MASK_FITS)}")
    if options.missing not in MISSING:
        raise BatchError(f"unknown --missing {options.missing!r}; choose copy or skip")
    if options.quality is not None and not 1 <= int(options.quality) <= 100:
        raise BatchError(f"quality must be 1-100, got {options.quality}")
    out = Path(options.output_dir) if options.output_dir is not None else default_output_dir(src)
    if _inside(out, src):
        raise BatchError(f"the output folder {out} is the input folder or inside it; "
                         "choose a separate folder (the input is never written to)")
    if out.exists() and not out.is_dir():
        raise BatchError(f"the output path {out} exists and is not a folder")
    if options.report is not None and _inside(Path(options.report), src):
        raise BatchError(f"the report {options.report} would be written into the input folder")
    return out


# -------------------------------------------------------------- the jobs

@dataclass
class _Job:
    path: Path
    rel: Path
    out: Path
    mask: Path | None  # the per-photo mask (masks_dir) or the shared one
    action: str  # "clean", "copy", "skip", "resumed"
    reason: str = ""


def list_photos(folder: Path, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Image files under ``folder``, recursively, sorted; hidden files and
    folders (".*", e.g. macOS "._x.jpg") and ``exclude`` folders are left out."""
    folder = Path(folder)
    excluded = {p.resolve() for p in exclude}
    photos = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() not in excluded)
        photos.extend(Path(root) / f for f in files
                      if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES)
    return sorted(photos, key=lambda p: p.relative_to(folder).as_posix())


def _mask_index(masks_dir: Path) -> dict[tuple[str, str], Path]:
    """(relative folder, stem) -> mask file; PNG first when several share a stem."""
    index: dict[tuple[str, str], Path] = {}
    order = {s: i for i, s in enumerate((".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg"))}
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


# --------------------------------------------------------------- manifest

class Manifest:
    """Finished files, one JSON line each, appended and fsynced after each
    file. Appending keeps the cost per file constant for 5,000-photo runs
    (rewriting one JSON file each time would not); a line torn by a kill is
    simply ignored, so the file is always consistent. The first line names
    the job (mask, fit, quality): entries of another job are not trusted."""

    def __init__(self, folder: Path, job: str, resume: bool):
        self.path = folder / MANIFEST_NAME
        self.job = job
        self.entries: dict[str, dict] = {}
        if resume and self.path.is_file():
            self._read()
        folder.mkdir(parents=True, exist_ok=True)
        if not self.entries:  # a fresh start: a new manifest for this job
            tmp = self.path.with_name(self.path.name + TEMP_SUFFIX)
            tmp.write_text(json.dumps({"job": job}) + "\n")
            os.replace(tmp, self.path)
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


def _remove_stale_temps(folder: Path) -> None:
    """Temp files a killed run left behind (ours only: they carry TEMP_SUFFIX)."""
    for root, _, files in os.walk(folder):
        for f in files:
            if f.endswith(TEMP_SUFFIX):
                try:
                    os.unlink(Path(root) / f)
                except OSError:
                    pass


# ---------------------------------------------------------------- running

def _plan(options: BatchOptions, out_dir: Path, manifest: Manifest) -> list[_Job]:
    src = Path(options.input_dir)
    exclude = tuple(p for p in (options.masks_dir, out_dir) if p is not None)
    index = _mask_index(Path(options.masks_dir)) if options.masks_dir is not None else None
    jobs = []
    for path in list_photos(src, exclude):
        rel = path.relative_to(src)
        out = out_dir / rel
        mask = Path(options.mask) if index is None else find_mask(index, rel)
        if options.mask is not None and path.resolve() == Path(options.mask).resolve():
            continue  # the mask itself lies in the photo folder
        if _inside(out, src):  # e.g. an output folder above the input: never overwrite a source
            jobs.append(_Job(path, rel, out, mask, "fail", "the output would be written into the input folder"))
        elif manifest.finished(rel.as_posix(), path, out, mask):
            jobs.append(_Job(path, rel, out, mask, "resumed", "finished by an earlier run"))
        elif mask is None:
            action = "copy" if options.missing == "copy" else "skip"
            jobs.append(_Job(path, rel, out, None, action, "no mask for this photo"))
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
    is checked between photos (the current photo is finished first)."""
    out_dir = validate_options(options)
    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out_dir)
    manifest = Manifest(out_dir, _job_key(options), options.resume)
    summary = BatchSummary(output_dir=str(out_dir))
    jobs = _plan(options, out_dir, manifest)
    summary.total = len(jobs)
    lock = threading.Lock()
    shared_hole = read_mask(options.mask) if options.mask is not None else None
    fitted: dict[tuple[int, int], np.ndarray] = {}  # shared mask per photo size

    def finish(job: _Job, status: str, reason: str = "", **times: float) -> None:
        reason = reason.removeprefix(f"{job.path}: ")  # the path is listed next to it anyway
        record = FileRecord(str(job.path), job.rel.as_posix(), status, reason,
                            str(job.out) if status in ("done", "copied", "resumed") else None, **times)
        record.seconds = sum(times.values())
        record.confidence = getattr(job, "confidence", None)
        with lock:
            summary.records.append(record)
            if status == "done":
                summary.done += 1
            elif status == "copied":
                summary.copied += 1
            elif status in ("skipped", "resumed"):
                summary.skipped += 1
            else:
                summary.failed.append((str(job.path), reason))
            if progress is not None:  # under the lock: reports arrive in order from both threads
                shown = status if not reason or status in ("done", "resumed") else f"{status}: {reason}"
                progress(BatchProgress(len(summary.records), summary.total, str(job.path), shown))

    def write(job: _Job, photo: Photo | None, result: np.ndarray | None, times: dict) -> None:
        """On the writer thread: encode, rename into place, record."""
        t0 = time.perf_counter()
        try:
            if photo is None:
                copy_atomic(job.path, job.out)
                status = "copied"
            elif result is None:  # the mask misses this photo: the original bytes are the best copy
                copy_atomic(job.path, job.out)
                status, job.reason = "copied", job.reason or "the mask does not touch this photo"
            else:
                save_pixels(restore_like(result, photo), job.out, photo.meta, options.quality)
                status = "done"
            manifest.add(job.rel.as_posix(), job.path, job.out, job.mask, status)
        except Exception as exc:
            finish(job, "failed", f"cannot write {job.out}: {exc}", **times)
            return
        finish(job, status, job.reason if status == "copied" else "", encode_s=time.perf_counter() - t0, **times)

    writes: queue.Queue = queue.Queue(maxsize=PREFETCH)

    writer_errors: list[BaseException] = []

    def writer() -> None:
        while (item := writes.get()) is not None:
            try:
                write(*item)
            except Exception as exc:  # e.g. a progress callback that raised: keep draining, re-raise later
                writer_errors.append(exc)

    decoded: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop_decoding = threading.Event()
    threads = [threading.Thread(target=_decoder, args=(jobs, decoded, stop_decoding), daemon=True,
                                name="batch-decode"),
               threading.Thread(target=writer, daemon=True, name="batch-write")]
    for t in threads:
        t.start()
    try:
        while (item := decoded.get()) is not None:
            job, photo, error, decode_s = item
            if job.action == "resumed":
                finish(job, "resumed", job.reason)
            elif job.action == "skip":
                finish(job, "skipped", job.reason)
            elif job.action == "fail":
                finish(job, "failed", job.reason)
            elif job.action == "copy":
                writes.put((job, None, None, {}))
            elif error is not None:
                finish(job, "failed", error, decode_s=decode_s)
            else:
                _clean(job, photo, decode_s, inpainter, shared_hole, fitted, options, writes, finish)
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
        writes.put(None)
        threads[1].join()  # every photo handed over is written before we return
        manifest.close()
        summary.seconds = time.perf_counter() - t_start
        if options.report is not None:
            _write_report(Path(options.report), summary)
    if writer_errors:
        raise writer_errors[0]
    return summary


def _clean(job: _Job, photo: Photo, decode_s: float, inpainter, shared_hole, fitted, options, writes,
           finish) -> None:
    """Fit the mask and run the model for one decoded photo (main thread)."""
    h, w = photo.rgb.shape[:2]
    try:
        if shared_hole is not None:
            if (h, w) not in fitted:
                fitted[(h, w)] = fit_mask(shared_hole, h, w, options.mask_fit)
            hole = fitted[(h, w)]
        else:
            hole = fit_mask(read_mask(job.mask), h, w, options.mask_fit)
    except (ValueError, ImageReadError) as exc:
        finish(job, "failed", str(exc), decode_s=decode_s)
        return
    t0 = time.perf_counter()
    try:
        full = inpainter(photo.rgb, hole) if hole.any() else None
        result = getattr(full, "refined", full)
        if full is not None:
            from .confidence import fill_confidence
            job.confidence = round(fill_confidence(photo.rgb, hole, result, getattr(full, "coarse", None)), 4)
    except Exception as exc:  # out of memory on a huge photo etc.: this photo only
        finish(job, "failed", f"removal failed: {type(exc).__name__}: {exc}", decode_s=decode_s)
        return
    writes.put((job, photo, result, {"decode_s": decode_s, "model_s": time.perf_counter() - t0}))


def _write_report(path: Path, summary: BatchSummary) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TEMP_SUFFIX}")
    tmp.write_text(json.dumps(summary.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, path)


# -------------------------------------------------------------------- CLI

def add_cli(sub: argparse._SubParsersAction) -> None:
    from .cli import add_device_weights

    p = sub.add_parser("batch", help="remove a region (one mask or per-photo masks) from a folder of photos",
                       description="Clean every photo of a folder (recursively). Results keep the relative "
                                   "path, name, format, quality and metadata; the input is never modified.")
    p.add_argument("input_dir", type=Path)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--mask", type=Path, help="one mask for every photo (white = remove)")
    which.add_argument("--masks", type=Path, dest="masks_dir",
                       help="a folder of masks matched by relative path and stem (a.jpg <-> MASKS/a.png)")
    p.add_argument("-o", "--output", type=Path, dest="output_dir",
                   help="output folder (default: INPUT_DIR_cleaned next to the input)")
    p.add_argument("--mask-fit", choices=MASK_FITS, default="error",
                   help="a mask of another size than the photo: fail the photo (default), stretch it, "
                        "or keep its size pinned to a corner or the centre")
    p.add_argument("--missing", choices=MISSING, default="copy",
                   help="photos without a mask in --masks: copy unchanged (default) or skip")
    p.add_argument("--quality", type=int, help="JPEG/WebP quality 1-100 (default: estimated from each JPEG)")
    p.add_argument("--resume", action="store_true", help="skip the photos an earlier run finished")
    p.add_argument("--report", type=Path, help="write a per-file JSON report here")
    add_device_weights(p)
    p.set_defaults(func=run_cli)


class _StopOnInterrupt:
    """First Ctrl+C: finish the current photo, then stop; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after the current photo (Ctrl+C again to abort)", file=sys.stderr)


def run_cli(args: argparse.Namespace) -> int:

    options = BatchOptions(input_dir=args.input_dir, output_dir=args.output_dir, mask=args.mask,
                           masks_dir=args.masks_dir, mask_fit=args.mask_fit, missing=args.missing,
                           quality=args.quality, resume=args.resume, report=args.report)
    try:
        out_dir = validate_options(options)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .cli import open_inpainter

    inpainter = open_inpainter(args)
    if inpainter is None:
        return 2

    from tqdm import tqdm
    bar = tqdm(total=0, unit="photo", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def on_progress(p: BatchProgress) -> None:
        if bar.total != p.total:
            bar.total = p.total
        bar.set_postfix_str(Path(p.path).name[-30:], refresh=False)
        bar.update(1)
        if p.status.startswith("failed"):
            bar.write(f"failed: {p.status.removeprefix('failed: ')}", file=sys.stderr)

    stopper = _StopOnInterrupt()
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, stopper.handle) if on_main else None
    try:
        summary = run_batch(options, inpainter, progress=on_progress, should_stop=stopper)
    except OSError as exc:  # the output folder cannot be created or written at all
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        if on_main:
            signal.signal(signal.SIGINT, previous)
    print(format_summary(summary), file=sys.stderr)
    print(f"results in {out_dir}")
    if summary.stopped:
        return 130
    return 1 if summary.failed else 0


def format_summary(summary: BatchSummary) -> str:
    rate = summary.done / summary.seconds if summary.seconds > 0 else 0.0
    lines = [f"{'stopped' if summary.stopped else 'finished'}: {summary.done} cleaned, {summary.copied} copied, "
             f"{summary.skipped} skipped, {len(summary.failed)} failed of {summary.total} "
             f"in {summary.seconds:.1f} s ({rate:.2f} photos/s)"]
    if summary.stopped:
        lines.append(f"{summary.total - len(summary.records)} not started; run again with --resume to finish")
    for path, reason in summary.failed:
        lines.append(f"  FAILED {path}: {reason}")
    return "\n".join(lines)
