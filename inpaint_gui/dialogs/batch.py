"""Remove the same region (one mask) or per-photo masks from a whole folder,
through ``model.batch`` — the same code as ``python main.py batch``."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtWidgets import (QButtonGroup, QDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QProgressBar, QPushButton, QRadioButton, QVBoxLayout,
                               QWidget)

from .. import messages
from ..settings import Settings
from ..workers import Worker

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
OK_STATUSES = ("done", "ok", "written", "resumed")


def _count(value) -> int:
    """Summary fields may be counts or lists of paths."""
    return value if isinstance(value, int) else len(value)


class BatchDialog(QDialog):
    def __init__(self, parent: QWidget | None, inpainter: Callable[[], object],
                 current_mask: np.ndarray | None = None, settings: Settings | None = None):
        super().__init__(parent)
        self.setWindowTitle("Batch removal")
        self._inpainter = inpainter
        self._current_mask = current_mask
        self._tmp = tempfile.TemporaryDirectory(prefix="inpaint-batch-")
        self.worker: Worker | None = None
        self.summary = None

        self.input_dir = QLineEdit()
        self.input_dir.setPlaceholderText("folder with the photos")
        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("empty: PHOTO_FOLDER_cleaned next to the photo folder")

        self.use_current = QRadioButton("The current mask")
        self.use_file = QRadioButton("One mask file:")
        self.use_folder = QRadioButton("A mask folder:")
        self.use_folder.setToolTip("One mask per photo, matched by file name")
        self.mask_file = QLineEdit()
        self.masks_dir = QLineEdit()
        group = QButtonGroup(self)
        for b in (self.use_current, self.use_file, self.use_folder):
            group.addButton(b)
        if current_mask is None:
            self.use_current.setEnabled(False)
            self.use_current.setText("The current mask (paint one first)")
            self.use_file.setChecked(True)
        else:
            h, w = current_mask.shape
            self.use_current.setText(f"The current mask ({w} × {h})")
            self.use_current.setChecked(True)

        def browse(edit: QLineEdit, folder: bool, caption: str) -> QPushButton:
            button = QPushButton("Browse…")

            def pick() -> None:
                path = (messages.get_folder(self, caption, edit.text()) if folder
                        else messages.get_open_path(self, caption, edit.text(), IMAGE_FILTER))
                if path:
                    edit.setText(path)
            button.clicked.connect(pick)
            return button

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.input_dir, 1)
        row.addWidget(browse(self.input_dir, True, "Photo folder"))
        form.addRow("Photos:", row)
        row = QHBoxLayout()
        row.addWidget(self.output_dir, 1)
        row.addWidget(browse(self.output_dir, True, "Output folder"))
        form.addRow("Save results to:", row)

        masks = QGroupBox("What to remove")
        grid = QGridLayout(masks)
        grid.addWidget(self.use_current, 0, 0, 1, 3)
        grid.addWidget(self.use_file, 1, 0)
        grid.addWidget(self.mask_file, 1, 1)
        grid.addWidget(browse(self.mask_file, False, "Mask file"), 1, 2)
        grid.addWidget(self.use_folder, 2, 0)
        grid.addWidget(self.masks_dir, 2, 1)
        grid.addWidget(browse(self.masks_dir, True, "Mask folder"), 2, 2)
        grid.setColumnStretch(1, 1)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("ready")
        self.current = QLabel("")
        self.current.setWordWrap(True)
        self.errors_label = QLabel("Problems:")
        self.errors = QListWidget()
        self.errors.setMinimumHeight(90)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(masks)
        layout.addWidget(self.progress)
        layout.addWidget(self.current)
        layout.addWidget(self.errors_label)
        layout.addWidget(self.errors, 1)
        layout.addLayout(buttons)
        self.resize(720, 480)

    # ------------------------------------------------------------------ run
    def options(self):
        """BatchOptions from the form (the current mask goes to a temp PNG)."""
        from model.batch import BatchOptions
        from model.imageio import write_mask

        mask = masks_dir = None
        if self.use_current.isChecked() and self._current_mask is not None:
            mask = Path(self._tmp.name) / "current_mask.png"
            write_mask(mask, self._current_mask)
        elif self.use_file.isChecked():
            mask = Path(self.mask_file.text().strip()) if self.mask_file.text().strip() else None
        elif self.use_folder.isChecked():
            masks_dir = Path(self.masks_dir.text().strip()) if self.masks_dir.text().strip() else None
        out = self.output_dir.text().strip()
        return BatchOptions(input_dir=Path(self.input_dir.text().strip()), output_dir=Path(out) if out else None,
                            mask=mask, masks_dir=masks_dir)

    def is_running(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        if self.worker is not None:
            return
        try:
            from model.batch import BatchError, run_batch, validate_options
        except ImportError as exc:
            messages.message(self, messages.ERROR, "Batch not available", f"Batch processing is not available: {exc}")
            return
        inpainter = self._inpainter()
        if inpainter is None:
            messages.message(self, messages.WARNING, "Model not ready",
                             "The model is still loading (or failed to load; see Settings). Try again in a moment.")
            return
        try:
            opts = self.options()
            validate_options(opts)
        except (BatchError, ValueError, OSError) as exc:
            messages.message(self, messages.ERROR, "Cannot start the batch", str(exc))
            return

        self.errors.clear()
        self.summary = None
        self.progress.setFormat("%v / %m photos")
        self.progress.setRange(0, 0)  # until the first report tells the total
        self.current.setText("Starting…")

        def job(report, should_stop):
            return run_batch(opts, inpainter, progress=report, should_stop=should_stop)

        self.worker = Worker(job, self, progress=self._on_progress, finished=self._on_finished,
                             failed=self._on_failed, done=self._on_done).start()
        self._set_running(True)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.current.setText("Cancelling after the current photo…")
            self.cancel_button.setEnabled(False)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(not running)

    def _on_progress(self, info) -> None:
        self.progress.setRange(0, max(1, info.total))
        self.progress.setValue(info.done)
        name = Path(info.path).name if info.path else ""
        self.current.setText(f"{info.status}: {name}" if name else str(info.status))
        status = str(info.status)
        if status.split(":")[0].strip().lower() not in OK_STATUSES and "fail" in status.lower():
            self.errors.addItem(f"{name}: {status}")

    def _on_finished(self, summary) -> None:
        self.summary = summary
        # the summary is authoritative: list every failure with its reason
        self.errors.clear()
        for path, reason in summary.failed:
            self.errors.addItem(f"{Path(path).name}: {reason}")
        stopped = getattr(summary, "stopped", False) or (self.worker is not None and self.worker.is_cancelling())
        self.current.setText(f"{'Cancelled' if stopped else 'Finished'}: {_count(summary.done)} done, "
                             f"{_count(summary.skipped)} skipped, {len(summary.failed)} failed "
                             f"in {summary.seconds:.1f} s"
                             + (f" → {summary.output_dir}" if getattr(summary, "output_dir", "") else ""))
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)

    def _on_failed(self, exc: BaseException) -> None:
        self.current.setText(f"Stopped: {exc}")
        messages.message(self, messages.ERROR, "Batch failed", str(exc))

    def _on_done(self) -> None:
        self.worker = None
        self._set_running(False)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(60000)
        self._tmp.cleanup()
        event.accept()
