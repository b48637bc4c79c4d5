"""One worker class for every long job (model loading, Remove, batch, training).

``Worker(fn)`` runs ``fn(report, should_stop)`` on its own QThread:
``report(value)`` sends a progress value to the GUI, ``should_stop()`` is
True once ``cancel()`` was called. Exactly one of ``finished(result)``,
``failed(exception)`` or ``cancelled()`` follows, then ``done()``.

All public signals are emitted on the GUI thread: the job thread only emits
the private ``_relay`` signal, which is connected with a queued connection to
a slot of this object (which lives on the GUI thread). So any slot, lambdas
included, runs on the GUI thread and may touch widgets.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot

Report = Callable[[Any], None]
StopCheck = Callable[[], bool]


def _is_cancellation(exc: BaseException) -> bool:
    """The model's own answer to ``should_stop()`` (model.inference.Cancelled)."""
    # imported here, on the job thread, not at the top: the window opens before
    # torch is loaded (model.inference imports it); a job that raised Cancelled
    # has loaded it already
    from model.inference import Cancelled
    return isinstance(exc, Cancelled)


class _Thread(QThread):
    def __init__(self, job: Callable[[], None]):
        super().__init__()
        self._job = job

    def run(self) -> None:  # noqa: D401 - Qt override
        self._job()


class Worker(QObject):
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)  # the exception; its traceback text is in .traceback_text
    cancelled = Signal()
    done = Signal()

    _relay = Signal(str, object)

    def __init__(self, fn: Callable[[Report, StopCheck], Any], parent: QObject | None = None,
                 **slots: Callable):
        """``slots``: signal name -> slot to connect (progress=..., done=...)."""
        super().__init__(parent)
        self._fn = fn
        self._stop = threading.Event()
        self._thread = _Thread(self._execute)
        self._relay.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._running = False
        self.traceback_text = ""
        for name, slot in slots.items():
            getattr(self, name).connect(slot)

    # ------------------------------------------------------------ GUI side
    def start(self) -> "Worker":
        self._running = True
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    def is_running(self) -> bool:
        return self._running

    def is_cancelling(self) -> bool:
        return self._stop.is_set()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the thread ends (only for shutdown)."""
        return self._thread.wait(ms)

    @Slot(str, object)
    def _dispatch(self, kind: str, value: object) -> None:
        if kind == "progress":
            if self._running:
                self.progress.emit(value)
            return
        self._running = False
        self._thread.wait()  # the job has returned; let the thread finish
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.done.emit()
        self.deleteLater()  # one job per Worker; free the QThread once everyone has heard

    # ---------------------------------------------------------- job thread
    def _execute(self) -> None:
        try:
            result = self._fn(lambda value: self._relay.emit("progress", value), self._stop.is_set)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never raised there
            if self._stop.is_set() and _is_cancellation(exc):
                self._relay.emit("cancelled", None)
            else:
                self.traceback_text = traceback.format_exc()
                self._relay.emit("failed", exc)
            return
        self._relay.emit("cancelled" if self._stop.is_set() and result is None else "finished", result)
