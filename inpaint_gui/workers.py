"""One worker class for every long job (model loading, Remove, batch, training).

``Worker(fn)`` runs ``fn(report, should_stop)`` on its own thread:
``report(value)`` sends a progress value to the GUI, ``should_stop()`` is
True once ``cancel()`` was called. Exactly one of ``finished(result)``,
``failed(exception)`` or ``cancelled()`` follows, then ``done()``.

All public signals are emitted on the GUI thread: the job thread only emits
the private ``_relay`` signal, which is connected with a queued connection to
a slot of this object (which lives on the GUI thread). So any slot, lambdas
included, runs on the GUI thread and may touch widgets.

While any job runs, Python's automatic garbage collection is off and a
timer on the GUI thread collects instead (``GuiThreadCollector``): a
collection runs on whichever thread happens to allocate, and one on a job
thread that frees a Qt object (a widget or pixmap caught in a reference
cycle) crashes the process.

The thread is a daemon: quitting the app never waits for a job, nor aborts
as Qt does when a running QThread is destroyed. The app cancels its jobs
when it closes and gives them a moment to stop (``wait``); a job still in
a step that cannot be interrupted then ends with the process.
"""
from __future__ import annotations

import gc
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot

Report = Callable[[Any], None]
StopCheck = Callable[[], bool]


def _is_cancellation(exc: BaseException) -> bool:
    """The model's own answer to ``should_stop()`` (model.fill.base.Cancelled)."""
    from model.fill.base import Cancelled  # a job that raised it has loaded it already
    return isinstance(exc, Cancelled)


class GuiThreadCollector:
    """Keeps Python's cyclic garbage collection on the GUI thread while jobs
    run: automatic collection off from the first job's start to the last
    one's end, and a timer on the GUI thread doing what it would have done
    (a generation is collected once its count passes its threshold)."""

    INTERVAL_MS = 500
    running = 0
    timer: QTimer | None = None

    @classmethod
    def job_started(cls) -> None:
        if cls.running == 0 and gc.isenabled():
            if cls.timer is None:
                cls.timer = QTimer(QCoreApplication.instance())
                cls.timer.setInterval(cls.INTERVAL_MS)
                cls.timer.timeout.connect(cls.collect)
            gc.disable()
            cls.timer.start()
        cls.running += 1

    @classmethod
    def job_ended(cls) -> None:
        cls.running = max(0, cls.running - 1)
        if cls.running == 0 and cls.timer is not None and cls.timer.isActive():
            cls.timer.stop()
            gc.enable()

    @staticmethod
    def collect() -> None:
        counts, thresholds = gc.get_count(), gc.get_threshold()
        oldest = max((g for g in range(3) if counts[g] > thresholds[g]), default=None)
        if oldest is not None:
            gc.collect(oldest)


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
        GuiThreadCollector.job_started()
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
        GuiThreadCollector.job_ended()
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
