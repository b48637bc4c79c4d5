"""Batch cleaning of a folder: ``python main.py batch`` (``model/cli/batch.py``)
and the GUI's batch dialog (``run_batch`` on a worker thread).

Guarantees: inputs (the photo folder, the mask file or folder) are never
written to: outputs and reports overlapping them are refused; every output is
written to a temp file named with the run's token and renamed (an interrupted
run leaves no half-written photo; the next run removes exactly that run's
temps); one run at a time per output folder (``OutputLock``); a manifest in
the output folder lets ``resume`` skip finished photos; symlinks leading out of
the input and special files are skipped, never read; a bad file is reported
and never stops the run. Photos are decoded on background threads and
written on others while the model runs (``io_threads`` of each). The rules: docs/batch.md.
"""
from __future__ import annotations

import os
import queue
import secrets
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..fill.base import Filler
from ..masks import check_hole_fraction
from ..paths import link_inside
from ..photos.atomic import copy_atomic
from ..photos.imageio import ImageReadError, Photo, read_mask, read_photo
from ..photos.savefile import restore_like, save_pixels, write_encoded
from .errors import BatchError, PhotoRefused
from .lock import OutputLock, remove_stale_temps
from .manifest import Manifest, fill_key, job_key
from .mask_fit import MaskFitter
from .options import BatchOptions
from .plan import Job, plan_jobs
from .report import BatchProgress, BatchSummary, FileRecord, write_report
from .validation import input_paths, validate_options

MISSES_PHOTO = "the mask does not touch this photo"
PREFETCH = 2  # decoded photos waiting for the model (each 12 MP photo is ~70 MB)


def io_threads() -> int:
    """Decoding and writing threads, each. A 12 MP JPEG takes about 0.1 s to
    decode and 0.2 s to encode on one core, so a GPU that cleans several
    photos a second needs several of each (PIL and OpenCV release the GIL
    while they work); on a small machine one each leaves the cores to the model."""
    return max(1, min(4, (os.cpu_count() or 1) // 4))


# ---------------------------------------------------- one photo's cleaning
# What a local run and a cluster worker (model/jobs/cluster.py) both do for a
# photo, so that their outputs are the same bytes.

class PhotoError(Exception):
    """This photo cannot be cleaned; the message is the reason listed for it,
    ``option`` the option whose value refused it (PhotoRefused), if one did."""

    def __init__(self, reason: str, option: str = ""):
        super().__init__(reason)
        self.option = option


@dataclass
class Cleaned:
    result: np.ndarray | None  # RGB uint8; None: copy the source (the mask misses it, or the filler says why)
    confidence: float | None  # model.confidence: low = review this result first
    model_s: float
    reason: str = ""  # why the source is copied, when the filler left it alone


def clean_photo(photo: Photo, mask: Path | None, fit: MaskFitter, filler: Filler) -> Cleaned:
    """Fit the mask to ``photo`` (unless the filler places its own hole) and
    fill it. Raises PhotoError."""
    h, w = photo.rgb.shape[:2]
    hole = None
    if not filler.finds_hole:
        try:
            hole = fit(mask, h, w)
            check_hole_fraction(hole)
        except (ValueError, ImageReadError) as exc:
            raise PhotoError(str(exc), getattr(exc, "option", "")) from None
    t0 = time.perf_counter()
    result, confidence, reason = None, None, ""
    try:
        filled = filler(photo.rgb, hole) if hole is None or hole.any() else None
        if filled is not None:
            result, reason = filled.image, filled.reason  # no image: the filler left it (e.g. no watermark)
        if result is not None:
            from ..confidence import fill_confidence
            where = hole if filled.hole is None else filled.hole
            confidence = round(fill_confidence(photo.rgb, where, result, filled.stage("coarse")), 4)
    except PhotoRefused as exc:  # e.g. a watermark not found where the rule placed it
        raise PhotoError(str(exc), exc.option) from None
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


# ---------------------------------------------------------------- running

def _read_job(job: Job) -> tuple:
    """(job, photo, error, seconds): one photo decoded, or why it cannot be."""
    if job.action != "clean":
        return job, None, None, 0.0
    t0 = time.perf_counter()
    try:
        return job, read_photo(job.path), None, time.perf_counter() - t0
    except ImageReadError as exc:
        return job, None, str(exc), time.perf_counter() - t0
    except Exception as exc:  # a decoder bug or out of memory: this photo only
        return job, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0


def _decoder(jobs: list[Job], q: queue.Queue, stop: threading.Event, threads: int = 1) -> None:
    """Decode the photos to clean ahead of the model, ``threads`` at a time,
    and hand them over in plan order."""
    upcoming = iter(jobs)
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="batch-decode") as pool:
        while not stop.is_set():
            while len(pending) < threads and (job := next(upcoming, None)) is not None:
                pending.append(pool.submit(_read_job, job))
            if not pending:
                break
            item = pending.popleft().result()
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
        for future in pending:
            future.cancel()
    q.put(None)  # end marker (the consumer drains, so this never blocks for long)


def run_batch(options: BatchOptions, filler: Filler, progress: Callable[[BatchProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchSummary:
    """Clean every photo of ``options.input_dir`` with ``filler`` (a
    ``model.fill`` filler: the network's ``Inpainter``, a classical fill,
    the watermark restorer, which places its own hole and takes no mask).

    ``progress`` is called after each file, from a writer thread; ``should_stop``
    is checked between photos (the current photo is finished first). The
    filler's own files for the output folder (the watermark restorer's
    estimate) are written by its ``prepare_output(out_dir)``, called once the
    lock is held, so a refused run writes nothing."""
    if options.cluster:  # never silently run on this machine what was meant for a cluster
        raise BatchError("options.cluster is set: run it with model.jobs.cluster.run_cluster_batch")
    return run_locked(options, lambda out_dir, token: _BatchRun(options, filler, progress, out_dir, token),
                      should_stop, filler)


def run_locked(options: BatchOptions, start: Callable[[Path, str], "_BatchRun"],
               should_stop: Callable[[], bool] | None = None, filler: Filler | None = None) -> BatchSummary:
    """Validate, take the output folder's lock, remove a killed run's temps,
    let ``filler.prepare_output(out_dir)`` write the run's own files (only
    now, so a refused run writes nothing), then run ``start(out_dir, token)``
    (a local run, or model/jobs/cluster.py's, whose workers have the filler:
    ``filler`` None, or the watermark restorer they bind)."""
    out_dir = validate_options(options, filler is not None and filler.finds_hole)
    t_start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)  # names this run's temp files
    out_lock = OutputLock(out_dir, token)
    stale = out_lock.acquire()
    try:
        remove_stale_temps(out_dir, str(stale.get("token", "")), tuple(p for _, p in input_paths(options)),
                            options.report)
        if filler is not None:
            filler.prepare_output(out_dir)
        return start(out_dir, token).run(should_stop, t_start)
    finally:
        out_lock.release()


class _BatchRun:
    """One run over the planned jobs, with the output folder locked: the main
    thread fits masks and runs the model (``clean``), decoder threads read
    photos ahead of it (``_decoder``) and writer threads encode and rename
    the results into place (``write``); ``finish`` records each file's outcome
    (from both threads, under a lock, so progress arrives in order)."""

    def __init__(self, options: BatchOptions, filler: Filler | None, progress: Callable[[BatchProgress], None] | None,
                 out_dir: Path, token: str, fill: str | None = None):
        """``fill``: the filler's ``fill_key`` where ``filler`` is not the one
        that fills (a cluster run's: the workers hold theirs)."""
        self.options, self.filler, self.progress, self.token = options, filler, progress, token
        self.out_dir = out_dir
        finds_hole = filler is not None and filler.finds_hole
        key = job_key(options, filler.hole_key() if finds_hole else "", fill_key(filler) if fill is None else fill)
        self.manifest = Manifest(out_dir, key, options.resume, token)
        self.summary = BatchSummary(output_dir=str(out_dir), other_job=self.manifest.other_job)
        self.jobs = plan_jobs(options, out_dir, self.manifest, finds_hole)
        self.summary.total = len(self.jobs)
        self.lock = threading.Lock()
        self.shared_hole = read_mask(options.mask) if options.mask is not None else None
        self.fit = MaskFitter(self.shared_hole, options.mask_fit)
        self.io_threads = io_threads()
        self.writes: queue.Queue = queue.Queue(maxsize=max(PREFETCH, self.io_threads))
        self.writer_errors: list[BaseException] = []
        self.writers: list[threading.Thread] = []

    def finish(self, job: Job, status: str, reason: str = "", option: str = "", **times: float) -> None:
        reason = reason.removeprefix(f"{job.path}: ")  # the path is listed next to it anyway
        record = FileRecord(str(job.path), job.rel.as_posix(), status, reason,
                            str(job.out) if status in ("done", "copied", "resumed") else None, **times,
                            option=option)
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
                                            reason, option=option))

    def write(self, job: Job, photo: Photo | None, result: np.ndarray | None, times: dict) -> None:
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

    def start_writers(self) -> None:
        """The threads that encode and write the results (``io_threads`` of them)."""
        self.writers = [threading.Thread(target=self._writer, daemon=True, name=f"batch-write-{i}")
                        for i in range(self.io_threads)]
        for t in self.writers:
            t.start()

    def stop_writers(self) -> None:
        """Return once every result handed over is written."""
        for _ in self.writers:
            self.writes.put(None)
        for t in self.writers:
            t.join()

    def clean(self, job: Job, photo: Photo, decode_s: float) -> None:
        """Fit the mask and run the model for one decoded photo (main thread)."""
        try:
            cleaned = clean_photo(photo, job.mask, self.fit, self.filler)
        except PhotoError as exc:
            self.finish(job, "failed", str(exc), exc.option, decode_s=decode_s)
            return
        job.confidence = cleaned.confidence
        if cleaned.result is None and cleaned.reason:
            job.reason = cleaned.reason  # e.g. a photo without the watermark: copied as is
        self.writes.put((job, photo, cleaned.result, {"decode_s": decode_s, "model_s": cleaned.model_s}))

    def settle(self, job: Job) -> bool:
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
        decoder = threading.Thread(target=_decoder, args=(self.jobs, decoded, stop_decoding, self.io_threads),
                                   daemon=True, name="batch-decode")
        decoder.start()
        self.start_writers()
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
                    if not decoder.is_alive():
                        break
            self.stop_writers()  # every photo handed over is written before we return
            self.manifest.close()
            self.sort_records()
            summary.seconds = time.perf_counter() - t_start
            if options.report is not None:
                try:
                    write_report(Path(options.report), summary, self.token)
                except OSError as exc:  # a full disk: the summary is still returned (and printed first)
                    summary.report_error = f"cannot write the report {options.report}: {exc.strerror or exc}"
        if self.writer_errors:
            raise self.writer_errors[0]
        return summary
