"""The frame the batch and fine-tune dialogs share: one long job on a worker
thread, with Start, Cancel (the worker's cancel flag: the job stops at its
next check) and Close, a progress bar and a status line.

A subclass builds its form, returns the job from ``prepare()`` (or None
after telling the user why it cannot start) and says what the job's
progress, result and failure mean (``on_progress``, ``on_finished``,
``on_failed``)."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from model.option import OptionError

from .. import messages
from ..workers import Report, StopCheck, Worker

Job = Callable[[Report, StopCheck], Any]


class JobDialog(QDialog):
    cancelling_text = "Cancelling…"  # the status line once Cancel is pressed
    failed_status = "Failed"  # the status line's word for a failed job
    failed_title = "Failed"  # the message box's title
    # closing while the job runs: how long the job gets to stop after Cancel
    # (a batch keeps every photo written so far; --resume carries on)
    close_wait_ms = 1000
    # the options an engine error names (by field), as this dialog's controls call them
    control_names: dict[str, str] = {}

    def __init__(self, parent: QWidget | None, title: str, cancel_label: str = "Cancel"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.worker: Worker | None = None
        self.locked_while_running: list[QWidget] = []  # the form: nothing changes under a running job

        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton(cancel_label)
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.buttons = QHBoxLayout()  # for the subclass's layout
        self.buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            self.buttons.addWidget(b)

    # ------------------------------------------------------- for subclasses
    def prepare(self) -> Job | None:
        """The job to run, from the form; None if it cannot start (say why)."""
        raise NotImplementedError

    def on_progress(self, info: Any) -> None:
        """What the job reported (on the GUI thread)."""

    def on_finished(self, result: Any) -> None:
        """The job's return value."""

    def on_failed(self, exc: BaseException) -> None:
        self.status.setText(f"{self.failed_status}: {self.in_own_words(exc)}")
        messages.message(self, messages.ERROR, self.failed_title, self.in_own_words(exc))

    def in_own_words(self, exc: BaseException) -> str:
        """An engine error with the options it names (an OptionError) as this dialog's controls."""
        if isinstance(exc, OptionError):
            return exc.worded(lambda name: self.control_names.get(name, name))
        return str(exc)

    def confirm_stop(self) -> bool:
        """Closing while the job runs: True to stop it (it is cancelled and waited for)."""
        return True

    def shutdown(self) -> None:
        """The dialog closes: stop the side jobs the subclass runs, free what it holds."""

    # -------------------------------------------------------------- running
    def is_running(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        if self.worker is not None:
            return
        job = self.prepare()
        if job is None:
            return
        self.worker = Worker(job, self, progress=self.on_progress, finished=self.on_finished,
                             failed=self.on_failed, done=self._done).start()
        self.set_running(True)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText(self.cancelling_text)
            self.cancel_button.setEnabled(False)

    def is_cancelling(self) -> bool:
        return self.worker is not None and self.worker.is_cancelling()

    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in self.locked_while_running:
            w.setEnabled(not running)

    def _done(self) -> None:
        self.worker = None
        self.set_running(False)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.worker is not None:
            if not self.confirm_stop():
                event.ignore()
                return
            self.worker.cancel()
            self.worker.wait(self.close_wait_ms)
        self.shutdown()
        event.accept()
