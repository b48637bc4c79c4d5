"""One worker class for every long job (model loading, Remove, batch, training).

``Worker(fn)`` runs ``fn(report, should_stop)`` on its own thread:
``report(value)`` sends a progress value to the GUI, ``should_stop()`` is
True once ``cancel()`` was called. Exactly one of ``finished(result)``,
``failed(exception)`` or ``cancelled()`` follows, then ``done()``.

All public signals are emitted on the GUI thread: the job thread only emits
the private ``_relay`` signal, which is connected with a queued connection to
a slot of this object (which lives on the GUI thread). So any slot, lambdas
included, runs on the GUI thread and may touch widgets.

The thread is a daemon: quitting the app never waits for a job, nor aborts
as Qt does when a running QThread is destroyed. The app cancels its jobs
when it closes and gives them a moment to stop (``wait``); a job still in
a step that cannot be interrupted then ends with the process.
"""
from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

Report = Callable[[Any], None]
StopCheck = Callable[[], bool]


def _is_cancellation(exc: BaseException) -> bool:
    """The model's own answer to ``should_stop()`` (model.fill.base.Cancelled)."""
    from model.fill.base import Cancelled  # a job that raised it has loaded it already
    return isinstance(exc, Cancelled)


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
        self._thread = threading.Thread(target=self._execute, name=f"worker-{getattr(fn, '__name__', 'job')}",
                                        daemon=True)
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
        """Block until the thread ends, at most ``ms`` (only for shutdown); True if it ended."""
        if self._thread.ident is not None:
            self._thread.join(ms / 1000)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        """The job's thread still runs (it may have been cancelled and not reached a check yet)."""
        return self._thread.is_alive()

    @Slot(str, object)
    def _dispatch(self, kind: str, value: object) -> None:
        if kind == "progress":
            if self._running:
                self.progress.emit(value)
            return
        self._running = False
        self._thread.join()  # the job has returned; let the thread finish
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.done.emit()
        self.deleteLater()  # one job per Worker; free the QThread once everyone has heard

    # ---------------------------------------------------------- job thread
    def _send(self, kind: str, value: object) -> None:
        try:
            self._relay.emit(kind, value)
        except RuntimeError:  # the app has closed and deleted this object: nobody listens any more
            pass

    def _execute(self) -> None:
        try:
            result = self._fn(lambda value: self._send("progress", value), self._stop.is_set)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never raised there
            if self._stop.is_set() and _is_cancellation(exc):
                self._send("cancelled", None)
            else:
                self.traceback_text = traceback.format_exc()
                self._send("failed", exc)
            return
        self._send("cancelled" if self._stop.is_set() and result is None else "finished", result)
