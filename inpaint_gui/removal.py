"""The model's jobs for the editor, each on a worker thread: loading the
filler chosen in Settings (``model.fill``: the network's ``Inpainter`` by
default), removing the masked region (its result and, for the network, the
coarse stage) and snapping a dragged box or scribble to an object's outline.

The controller owns the workers and the cancel flag; it reports through
signals and never shows a widget, so the window decides what the user sees.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from .settings import Settings
from .workers import Worker


def is_out_of_memory(exc: BaseException) -> bool:
    """The device ran out of memory: torch's own error class on CUDA; other
    backends (MPS) and older torch raise RuntimeError saying so."""
    try:
        import torch
        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, (RuntimeError, MemoryError)) and "out of memory" in str(exc).lower()


def is_device_unavailable(exc: BaseException) -> bool:
    """The device asked for is not on this machine (a GPU removed, no CUDA)."""
    from model.devices import DeviceUnavailable  # torch: imported when a model job has already run

    return isinstance(exc, DeviceUnavailable)


STEP_NAMES = {"regions": "finding the regions", "network": "network", "texture": "texture", "fill": "filling"}


def progress_text(step: str, fraction: float, elapsed: float) -> str:
    """What the status bar says while a removal runs: the step, the share
    done and, once it can be guessed, the time left."""
    from model.inference import seconds_left  # torch: loaded by the model that reports

    text = f"Removing: {STEP_NAMES.get(step, step)}, {fraction * 100:.0f} %"
    left = seconds_left(elapsed, fraction)
    if left is not None:
        text += f", about {left:.0f} s left" if left < 90 else f", about {left / 60:.0f} min left"
    return text


@dataclass
class Removal:
    """A finished removal: the photo and hole it ran on, and the filler's
    result (``image``, and its stages: the network's ``coarse``)."""

    image: np.ndarray
    hole: np.ndarray
    result: Any  # model.fill.base.FillResult


class RemovalController(QObject):
    model_loading = Signal()
    model_loaded = Signal(object)  # the filler (model.fill.base.Filler)
    model_failed = Signal(object)  # the exception
    removed = Signal(object)  # a Removal
    removal_failed = Signal(object)  # the exception
    removal_cancelled = Signal()
    removal_progress = Signal(str, float, float)  # step, fraction done, seconds since the removal started
    selected = Signal(object, int)  # (bool object mask, 1 add / 0 take out)
    selection_failed = Signal(object)  # the exception
    jobs_changed = Signal()  # a job started or ended (what the window enables depends on it)

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.inpainter = None
        self.model_error: str | None = None
        self.device_override: str | None = None  # e.g. "cpu" after an out-of-memory retry
        self.pending_remove = False  # Remove was asked for before the model was ready
        self._load_worker: Worker | None = None
        self._remove_worker: Worker | None = None
        self._select_worker: Worker | None = None

    # ------------------------------------------------------------ state
    def is_loading(self) -> bool:
        return self._load_worker is not None

    def is_removing(self) -> bool:
        return self._remove_worker is not None

    def is_selecting(self) -> bool:
        return self._select_worker is not None

    def is_cancelling(self) -> bool:
        """Cancel was asked for and the removal has not stopped yet."""
        return self._remove_worker is not None and self._remove_worker.is_cancelling()

    def is_busy(self) -> bool:
        """A removal or a selection runs (loading the model does not block editing)."""
        return self.is_removing() or self.is_selecting()

    # ------------------------------------------------------------ model
    def load_model(self, device: str | None = None, then_remove: bool = False) -> bool:
        """Load the filler of Settings on a worker; False if a load already runs."""
        if self._load_worker is not None:
            return False
        device = device or self.device_override or self.settings.device
        weights = self.settings.weights or None
        method, context, texture = self.settings.method, self.settings.context, self.settings.texture
        self.inpainter = None
        self.model_error = None
        self.pending_remove = self.pending_remove or then_remove

        def job(report, should_stop):
            from model.fill import load_filler  # the network's, on the worker: importing torch takes seconds
            return load_filler(method, weights, device, context=context, texture=texture)

        self._load_worker = Worker(job, self, finished=self._loaded, failed=self._load_failed,
                                   done=self._load_done).start()
        self.model_loading.emit()
        self.jobs_changed.emit()
        return True

    def take_pending_remove(self) -> bool:
        """True once if a Remove waits for the model (and forget it)."""
        pending, self.pending_remove = self.pending_remove, False
        return pending

    def _loaded(self, inpainter) -> None:
        self.inpainter = inpainter
        self.model_loaded.emit(inpainter)

    def _load_failed(self, exc: BaseException) -> None:
        self.pending_remove = False
        self.model_error = str(exc)
        self.model_failed.emit(exc)

    def _load_done(self) -> None:
        self._load_worker = None
        self.jobs_changed.emit()

    # ------------------------------------------------------------ remove
    def remove(self, image: np.ndarray, hole: np.ndarray) -> None:
        """Run the model on ``image`` and ``hole``; ``removed(Removal)``
        follows, or ``removal_failed`` / ``removal_cancelled``. Without a
        model yet, the removal waits for it (``pending_remove``)."""
        if self.is_busy():
            return
        if self.inpainter is None:
            self.pending_remove = True
            if self._load_worker is None:
                self.load_model()
            self.jobs_changed.emit()
            return
        inpainter = self.inpainter
        started = time.monotonic()

        def job(report, should_stop):
            return Removal(image, hole, inpainter(image, hole, should_stop=should_stop,
                                                  progress=lambda step, fraction: report((step, fraction))))

        def progress(value) -> None:
            step, fraction = value
            self.removal_progress.emit(step, fraction, time.monotonic() - started)

        self._remove_worker = Worker(job, self, progress=progress, finished=self.removed.emit,
                                     failed=self.removal_failed.emit, cancelled=self.removal_cancelled.emit,
                                     done=self._remove_done).start()
        self.jobs_changed.emit()

    def _remove_done(self) -> None:
        self._remove_worker = None
        self.jobs_changed.emit()

    # ------------------------------------------------------------ select
    def select(self, image: np.ndarray, points: np.ndarray, scribble: bool, radius: float, value: int) -> None:
        """Snap a box (first and last of ``points``) or a scribble to the
        object under it (model.selection) on a worker; ``selected`` follows."""
        if self.is_busy():
            return

        def job(report, should_stop):
            from model.selection import select_object
            if scribble:
                return select_object(image, scribble=points, scribble_radius=radius)
            (x0, y0), (x1, y1) = points[0], points[-1]
            return select_object(image, box=(x0, y0, x1, y1))

        worker = Worker(job, self, failed=self.selection_failed.emit, done=self._select_done)
        # a cancelled selection's outline is dropped when it arrives
        worker.finished.connect(lambda sel: None if worker.is_cancelling() else self.selected.emit(sel, value))
        self._select_worker = worker.start()
        self.jobs_changed.emit()

    def _select_done(self) -> None:
        self._select_worker = None
        self.jobs_changed.emit()

    # ------------------------------------------------------------ cancel
    def cancel(self) -> None:
        """Cancel the selection and the removal that run, or the removal
        that waits for the model."""
        if self._select_worker is not None:
            self._select_worker.cancel()
        if self._remove_worker is not None:
            self._remove_worker.cancel()
        elif self.pending_remove:
            self.pending_remove = False
            self.jobs_changed.emit()

    def shutdown(self, grace_s: float = 1.0) -> None:
        """The app is closing: cancel every job and give them ``grace_s`` in
        all to stop; never more (a step that cannot be interrupted, such as
        importing torch or a running patch search, ends with the process)."""
        workers = [w for w in (self._remove_worker, self._load_worker, self._select_worker) if w is not None]
        for worker in workers:
            worker.cancel()
        self.pending_remove = False
        deadline = time.monotonic() + grace_s
        for worker in workers:
            worker.wait(max(0, int((deadline - time.monotonic()) * 1000)))
