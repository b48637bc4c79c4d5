"""Batch cleaning on a Ray cluster: ``python main.py batch DIR --cluster ADDRESS``.

The driver (this process) does what a local run does, with the same code
(``model.jobs.batch`` and the modules beside it): it plans, holds the output folder's lock, writes every
result atomically, keeps the manifest and the report. Only the model step is
elsewhere: Ray actors (``PhotoWorker``), each holding one loaded model,
receive a photo's bytes (and its mask's) and answer with the encoded result,
made by ``clean_photo`` and ``encode_result`` like a local run's, so the
bytes are the same and no shared file system is needed.

A worker that dies mid-photo costs that photo a try on another worker (and a
replacement worker is started); a photo that fails ``MAX_TRIES`` times is
listed as failed with the reason. The rules: docs/batch.md.

Ray is an optional extra (``pip install region-inpaint[cluster]``) and is
imported only inside the functions here: the app and the plain command line
never load it (tests/test_layout.py).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import socket
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..fill.options import InferenceOptions
from ..option import default_of
from ..photos.imageio import ImageReadError, check_regular_file, read_photo
from .batch import MISSES_PHOTO, Encoded, PhotoError, _BatchRun, clean_photo, encode_result, run_locked
from .errors import BatchError, BatchOptionError
from .mask_fit import MaskFitter
from .options import BatchOptions
from .plan import Job
from .report import BatchProgress, BatchSummary, write_report

MAX_TRIES = 3  # a photo is tried on up to this many workers
QUEUED_PER_WORKER = 2  # photos handed to a worker at once: the next one is there when it finishes one
POLL_S = 0.2  # how often the driver looks at should_stop while it waits
START_TIMEOUT_S = 300.0  # no worker ready by then: the cluster has no room for one (or cannot load the model)
DEFAULT_PORT = 6379  # `ray start --head`'s port


class ClusterError(BatchError):
    """The cluster cannot be used: not reachable, no worker could start (without Ray: BatchOptionError)."""


@dataclass
class WorkerSpec:
    """What each worker loads and how it writes (sent to every worker)."""
    device: str = "auto"  # "cpu", or "cuda" for a worker that holds a GPU
    threads: int = 1  # torch and OpenCV threads (= the CPUs Ray reserves for the worker)
    method: str = default_of(InferenceOptions, "method")  # the filler each worker loads (model.fill)
    texture: bool = default_of(InferenceOptions, "texture")
    mask_fit: str = "error"
    quality: int | None = None


# ------------------------------------------------------------- the worker

class PhotoWorker:
    """One loaded model, as a Ray actor (``ray.remote(PhotoWorker)``): cleans
    one photo at a time from its bytes. Files live only in a private temp
    folder, named like the originals (the readers and writers go by name)."""

    def __init__(self, spec: WorkerSpec, weights: bytes | None, shared_hole: np.ndarray | None, restorer=None):
        import cv2
        import torch

        from ..fill import load_filler

        torch.set_num_threads(spec.threads)
        cv2.setNumThreads(spec.threads)
        self.spec = spec
        self.folder = Path(tempfile.mkdtemp(prefix="inpaint-worker-"))
        weights_file = None  # a classical fill has none
        if weights is not None:
            weights_file = self.folder / "weights.pt"
            weights_file.write_bytes(weights)
        self.inpainter = load_filler(spec.method, weights_file, spec.device, texture=spec.texture)
        self.device = self.inpainter.device
        self.notes: list[str] = []
        if restorer is not None:  # --watermark: the restorer stands in for the model and calls it
            restorer.note = self.notes.append  # its notes travel back with the answer
            self.inpainter = restorer.bind(self.inpainter)
        self.fit = MaskFitter(shared_hole, spec.mask_fit)

    def ready(self) -> str:
        """Where this worker runs (answered once the model is loaded)."""
        from ..devices import describe

        return f"{socket.gethostname()} ({describe(self.device)}, {self.spec.threads} thread(s))"

    def clean(self, photo_bytes: bytes, mask_bytes: bytes | None, names: dict[str, str]) -> dict:
        """Clean one photo. ``names``: the driver's paths (photo, mask, out),
        so the temp files take their names and messages name the originals.
        Answers a dict: status done (with ``data``), copy or failed (with ``reason``)."""
        work = Path(tempfile.mkdtemp(dir=self.folder))
        photo_path = work / "in" / Path(names["photo"]).name
        mask_path = work / "mask" / Path(names["mask"]).name if mask_bytes is not None else None
        out_path = work / "out" / Path(names["out"]).name
        real = {str(photo_path): names["photo"], str(out_path): names["out"]}
        if mask_path is not None:
            real[str(mask_path)] = names["mask"]

        def named(message: str) -> str:  # the driver's paths in place of the temp ones
            for tmp, original in real.items():
                message = message.replace(tmp, original)
            return message

        self.notes.clear()
        answer: dict = {"status": "failed", "reason": "", "decode_s": 0.0, "model_s": 0.0, "encode_s": 0.0,
                        "confidence": None, "data": None, "notes": self.notes}
        try:
            for path, data in ((photo_path, photo_bytes), (mask_path, mask_bytes)):
                if path is not None:
                    path.parent.mkdir()
                    path.write_bytes(data)
            t0 = time.perf_counter()
            try:
                photo = read_photo(photo_path)
            except ImageReadError as exc:  # as a local run's decoder says it
                return {**answer, "reason": named(str(exc)), "decode_s": time.perf_counter() - t0}
            except Exception as exc:
                return {**answer, "reason": named(f"{type(exc).__name__}: {exc}"),
                        "decode_s": time.perf_counter() - t0}
            answer["decode_s"] = time.perf_counter() - t0
            try:
                cleaned = clean_photo(photo, mask_path, self.fit, self.inpainter)
            except PhotoError as exc:
                return {**answer, "reason": named(str(exc)), "option": exc.option}
            answer.update(model_s=cleaned.model_s, confidence=cleaned.confidence)
            if cleaned.result is None:
                return {**answer, "status": "copy", "reason": cleaned.reason}
            t0 = time.perf_counter()
            try:
                encode_result(cleaned.result, photo, out_path, self.spec.quality)
                data = out_path.read_bytes()
            except Exception as exc:
                return {**answer, "reason": named(f"cannot write {out_path}: {exc}")}
            return {**answer, "status": "done", "data": data, "encode_s": time.perf_counter() - t0}
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)


# -------------------------------------------------------------- the driver

def _ray():
    try:
        import ray
    except ImportError:
        raise BatchOptionError("{cluster} needs Ray: pip install 'region-inpaint[cluster]' "
                               "(or pip install ray) on this machine and on every machine of the cluster") from None
    return ray


def _unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why ``address`` (HOST:PORT or ray://HOST:PORT) cannot be reached, or None."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep:  # Ray's own defaults: the head's port, or its client server's
        host, port = hostport, "10001" if address.startswith("ray://") else str(DEFAULT_PORT)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except ValueError:
        return f"not an address: {address!r} (give HOST:PORT, e.g. 10.0.0.5:{DEFAULT_PORT}, or auto)"
    except OSError as exc:
        return f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
    return None


# A cluster started on this machine talks over loopback only. Ray turns
# "127.0.0.1" into the machine's network address, so another loopback address.
LOCAL_NODE_IP = "127.0.0.2"

def connect(address: str) -> bool:
    """Connect this process to the cluster at ``address`` (``auto``: $RAY_ADDRESS,
    else a new local cluster on this machine's cores). Returns True when this
    call connected (the caller shuts it down), False when the process was
    connected already (a test's cluster). Raises ClusterError."""
    ray = _ray()
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "") or "local"
    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if address not in ("local", current):
            raise ClusterError(f"this process is connected to the Ray cluster at {current} already, "
                               f"not {address}")
        return False
    if address != "local":
        why = _unreachable(address)
        if why is not None:
            raise ClusterError(why)
    settings = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address == "local":
        settings.update(num_cpus=os.cpu_count() or 1, include_dashboard=False, _node_ip_address=LOCAL_NODE_IP)
    try:
        ray.init(address=address, **settings)
    except Exception as exc:  # version mismatch, a port that is not Ray's, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {first}") from None
    return True


def worker_plan(device: str, workers: int | None) -> tuple[int, dict, WorkerSpec]:
    """(number of workers, their Ray resources, their spec) for this cluster:
    one worker per GPU where it has GPUs (unless --device cpu), else
    ``workers`` CPU workers (default one per CPU), each with the cluster's
    CPUs shared out as its threads so they do not oversubscribe."""
    ray = _ray()
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    if device.startswith("cuda") and gpus == 0:
        raise BatchOptionError("{device} {name}: the cluster has no GPU (it has {cpus} CPUs)", name=device, cpus=cpus)
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise BatchOptionError("{device} {name}: a cluster runs on cpu or cuda workers (or auto)", name=device)
    if gpus and device != "cpu":
        count = min(workers or gpus, gpus)
        threads = max(1, min(8, cpus // gpus))  # the texture step is on the CPU: give it some
        return count, {"num_gpus": 1, "num_cpus": 1}, WorkerSpec("cuda", threads)
    if cpus < 1:
        raise ClusterError("the cluster has no CPU to run a worker on")
    count = min(workers or cpus, cpus)  # one more would wait for a free CPU for ever
    threads = max(1, cpus // count)
    return count, {"num_cpus": threads}, WorkerSpec("cpu", threads)


@dataclass
class _Worker:
    number: int  # names it in tried_on
    handle: object
    started: object  # the ref of its ready() call
    ready: bool = False
    where: str = ""
    queued: int = 0  # photos handed to it and not answered yet


@dataclass
class _Try:
    job: Job
    worker: _Worker
    seq: int  # hand-over order (a worker works in this order)


class _ClusterRun(_BatchRun):
    """A local run (plan, manifest, writer thread, report) whose photos are
    cleaned by Ray actors instead of the model on the main thread."""

    def __init__(self, options: BatchOptions, progress, out_dir: Path, token: str, *, count: int, resources: dict,
                 spec: WorkerSpec, weights: bytes | None, restorer, fill: str, note: Callable[[str], None] | None):
        # the workers have the fillers; here only the restorer's hole key and files count (or none), and
        # ``fill``, the key of the filler the workers load (the same as a local run's: --resume works across)
        super().__init__(options, restorer, progress and self._with_workers(progress), out_dir, token, fill)
        self.count, self.resources, self.note = count, resources, note or (lambda message: None)
        self.spec = dataclasses.replace(spec, mask_fit=options.mask_fit, quality=options.quality)
        self.restorer = restorer
        self.weights = weights
        self.workers: list[_Worker] = []
        self.started_workers = 0
        # workers started in place of dead ones, at most (each death while working costs a photo a
        # try, so a photo that kills every worker it meets stops after MAX_TRIES of them)
        self.replacements = 2 * count + MAX_TRIES
        self.lost_reason = ""
        self.tries: dict[str, int] = {}  # rel -> tries so far
        self.tried_on: dict[str, set[int]] = {}  # rel -> numbers of the workers it failed on
        self.handed: dict[object, _Try] = {}  # object ref -> the photo it answers

    def _with_workers(self, progress: Callable[[BatchProgress], None]) -> Callable[[BatchProgress], None]:
        return lambda p: progress(dataclasses.replace(p, workers=sum(w.ready for w in self.workers)))

    # -- workers
    def _start_worker(self) -> None:
        ray = _ray()
        actor = ray.remote(PhotoWorker).options(max_restarts=0, max_task_retries=0, **self.resources)
        handle = actor.remote(self.spec, self._weights_ref, self._hole_ref, self._restorer)
        self.started_workers += 1
        self.workers.append(_Worker(self.started_workers, handle, handle.ready.remote()))

    def _drop_worker(self, worker: _Worker, reason: str) -> None:
        """A worker died (or never started): its photos go back to the queue,
        the one it was working on with a try counted; a replacement starts."""
        ray = _ray()
        if worker not in self.workers:
            return
        self.workers.remove(worker)
        self.lost_reason = reason
        try:
            ray.kill(worker.handle)
        except Exception:
            pass
        mine = sorted(((r, t) for r, t in self.handed.items() if t.worker is worker), key=lambda rt: rt[1].seq)
        lost = []
        for ref, attempt in mine:
            del self.handed[ref]
            try:  # answered before it died (not yet looked at): keep the answer
                answer = ray.get(ref, timeout=0)
            except Exception:
                lost.append(attempt)
                continue
            self._use(attempt.job, answer)
        for i, attempt in reversed(list(enumerate(lost))):  # it was working on the first one lost
            self._retry(attempt.job, worker, f"worker lost ({reason})", counted=i == 0)
        if worker.ready and self.replacements > 0 and not self.summary.stopped:
            self.replacements -= 1
            self.note(f"a worker was lost ({reason}); starting another")
            self._start_worker()

    def _retry(self, job: Job, worker: _Worker, reason: str, counted: bool = True) -> None:
        rel = job.rel.as_posix()
        if counted:
            self.tries[rel] = self.tries.get(rel, 0) + 1
            self.tried_on.setdefault(rel, set()).add(worker.number)
        if self.tries.get(rel, 0) >= MAX_TRIES:
            self.finish(job, "failed", f"failed on {self.tries[rel]} tries: {reason}")
        elif not self.summary.stopped:
            self.todo.appendleft(job)

    # -- handing photos over
    def _pick(self, job: Job) -> _Worker | None:
        free = [w for w in self.workers if w.ready and w.queued < QUEUED_PER_WORKER]
        if not free:
            return None
        tried = self.tried_on.get(job.rel.as_posix(), set())
        fresh = [w for w in free if w.number not in tried]  # a retry goes to another worker when there is one
        return min(fresh or free, key=lambda w: w.queued)

    def _hand_over(self) -> None:
        while self.todo:
            job = self.todo[0]
            worker = self._pick(job)
            if worker is None:
                return
            self.todo.popleft()
            try:
                check_regular_file(job.path)
                photo_bytes = job.path.read_bytes()
                mask_bytes = None
                if job.mask is not None and self.shared_hole is None:  # --masks: the photo's own mask goes with it
                    check_regular_file(job.mask)
                    mask_bytes = job.mask.read_bytes()
            except ImageReadError as exc:
                self.finish(job, "failed", str(exc))
                continue
            except OSError as exc:
                self.finish(job, "failed", f"cannot read: {exc.strerror or exc}")
                continue
            names = {"photo": str(job.path), "mask": str(job.mask), "out": str(job.out)}
            ref = worker.handle.clean.remote(photo_bytes, mask_bytes, names)
            worker.queued += 1
            self._seq += 1
            self.handed[ref] = _Try(job, worker, self._seq)

    def _answered(self, ref) -> None:
        ray = _ray()
        from ray.exceptions import RayError, RayTaskError

        attempt = self.handed.pop(ref, None)
        if attempt is None:  # its worker was dropped meanwhile
            return
        job, worker = attempt.job, attempt.worker
        worker.queued -= 1
        try:
            answer = ray.get(ref)
        except RayTaskError as exc:  # an exception the worker's code did not catch: try elsewhere
            cause = exc.cause or exc
            self._retry(job, worker, f"{type(cause).__name__}: {_first_line(cause)}")
            return
        except RayError as exc:  # the worker died, or its machine went away with the answer
            self.handed[ref] = attempt  # _drop_worker re-queues it with the worker's other photos
            self._drop_worker(worker, _first_line(exc, "the worker process died"))
            return
        self._use(job, answer)

    def _use(self, job: Job, answer: dict) -> None:
        """A worker's answer: the result to write, a copy, or the reason it failed."""
        for message in answer.get("notes") or ():
            self.note(message)
        times = {k: answer[k] for k in ("decode_s", "model_s", "encode_s") if answer.get(k)}
        job.confidence = answer.get("confidence")
        if answer["status"] == "done":
            self.writes.put((job, None, Encoded(answer["data"]), times))
        elif answer["status"] == "copy":
            job.reason = job.reason or answer.get("reason") or MISSES_PHOTO
            self.writes.put((job, None, None, times))
        else:
            self.finish(job, "failed", answer["reason"], answer.get("option", ""), **times)

    def _started(self, worker: _Worker) -> None:
        ray = _ray()
        from ray.exceptions import RayError

        try:
            worker.where = ray.get(worker.started)
        except RayError as exc:
            self._drop_worker(worker, f"a worker could not start: {_first_line(exc)}")
            return
        worker.ready = True
        self.note(f"worker ready on {worker.where}")

    # -- the run
    def run(self, should_stop: Callable[[], bool] | None, t_start: float) -> BatchSummary:
        ray = _ray()
        summary = self.summary
        self.start_writers()
        self.todo: deque[Job] = deque()
        self._seq = 0
        try:
            for job in self.jobs:
                if not self.settle(job):
                    self.todo.append(job)
            if self.todo:
                self._weights_ref = ray.put(self.weights)
                self._hole_ref = ray.put(self.shared_hole) if self.shared_hole is not None else None
                self._restorer = _detached(self.restorer)
                for _ in range(min(self.count, len(self.todo))):
                    self._start_worker()
            ever_ready, t_workers = False, time.monotonic()
            while self.todo or self.handed:
                if not summary.stopped and should_stop is not None and should_stop():
                    summary.stopped = True  # the photos handed over are finished and written; no new ones
                    self.todo.clear()
                    continue
                if not self.workers:  # every worker died and no replacement is left
                    if not ever_ready:
                        raise ClusterError(self.lost_reason or "no worker could start")
                    for job in self.todo:
                        self.finish(job, "failed", f"no worker left ({self.lost_reason})")
                    self.todo.clear()
                    break
                if not ever_ready and time.monotonic() - t_workers > START_TIMEOUT_S:
                    raise ClusterError(f"no worker started within {START_TIMEOUT_S:.0f} s; the cluster has "
                                       f"{_free(ray)} free, each worker needs {self.resources}")
                self._hand_over()
                starting = {w.started: w for w in self.workers if not w.ready}
                waiting = list(self.handed) + list(starting)
                if not waiting:
                    continue
                done, _ = ray.wait(waiting, num_returns=1, timeout=POLL_S)
                if done:
                    rest = [r for r in waiting if r not in done]
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
                    done = done + more
                for ref in done:
                    if ref in starting:
                        self._started(starting[ref])
                        ever_ready = ever_ready or starting[ref].ready
                    else:
                        self._answered(ref)
        finally:
            for worker in self.workers:
                try:
                    ray.kill(worker.handle)
                except Exception:
                    pass
            self.stop_writers()  # every answer received is written before we return
            self.manifest.close()
            self.sort_records()  # the same order as a local run's report, whatever order the workers answered in
            summary.seconds = time.perf_counter() - t_start
            if self.options.report is not None:
                try:
                    write_report(Path(self.options.report), summary, self.token)
                except OSError as exc:
                    summary.report_error = f"cannot write the report {self.options.report}: {exc.strerror or exc}"
        if self.writer_errors:
            raise self.writer_errors[0]
        return summary


def _free(ray) -> dict:
    return {k: v for k, v in ray.available_resources().items() if k in ("CPU", "GPU")}


def _first_line(exc: BaseException, default: str = "") -> str:
    """One line for a Ray error: the exception's own message (the last line
    of a remote traceback), else its first line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in lines):
        return lines[-1]
    return (lines[0] if lines else "") or default or type(exc).__name__


def _detached(restorer):
    """The watermark restorer without its local model and note callback (each worker binds its own)."""
    if restorer is None:
        return None
    import copy
    detached = copy.copy(restorer)
    detached.inpainter, detached.note = None, None
    return detached


def run_cluster_batch(options: BatchOptions, weights: str | os.PathLike | None = None, device: str = "auto",
                      texture: bool = default_of(InferenceOptions, "texture"), restorer=None,
                      progress: Callable[[BatchProgress], None] | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      note: Callable[[str], None] | None = None,
                      method: str = default_of(InferenceOptions, "method")) -> BatchSummary:
    """``run_batch`` on the Ray cluster at ``options.cluster``: the same
    outputs, manifest and report. ``method``/``weights``/``device``/``texture``:
    the filler each worker loads (the weights file is sent to them);
    ``restorer``: a ``WatermarkRestorer`` (``--watermark``). Raises
    ClusterError (a BatchError) when the cluster cannot be used, BatchError
    for bad options."""
    from ..fill import FILLERS, check_settings, load_filler
    from ..option import OptionError
    from ..paths import resolve_weights
    from .manifest import fill_key

    if not options.cluster:
        raise BatchOptionError("no cluster address given ({cluster} ADDRESS or auto)")
    try:
        check_settings(method, ["weights"] if weights is not None else [])
    except OptionError as exc:
        raise BatchOptionError(exc.text, **exc.values) from None
    except ValueError as exc:  # an unknown method
        raise BatchError(str(exc)) from None
    weights_bytes = None  # a fill without weights (a classical one): none is sent
    try:
        if "weights" in FILLERS[method].own_settings:
            weights = resolve_weights(weights)
            weights_bytes = weights.read_bytes()
        # the filler as each worker loads it, here on the CPU: its key is the manifest's (as a local run's)
        loaded = load_filler(method, weights, "cpu", texture=texture)
        fill = fill_key(restorer, loaded) if restorer is not None else fill_key(loaded)
    except (OSError, ValueError, RuntimeError) as exc:
        raise BatchError(str(exc)) from None
    started = connect(str(options.cluster))
    try:
        count, resources, spec = worker_plan(device, options.workers)
        spec.texture, spec.method = texture, method
        if note is not None:
            kind = "GPU" if spec.device == "cuda" else "CPU"
            note(f"cluster: {count} {kind} worker(s), {spec.threads} thread(s) each")
        return run_locked(options, lambda out_dir, token: _ClusterRun(
            options, progress, out_dir, token, count=count, resources=resources, spec=spec,
            weights=weights_bytes, restorer=restorer, fill=fill, note=note), should_stop, restorer)
    finally:
        if started:
            _ray().shutdown()
