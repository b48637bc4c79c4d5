"""Remove the same region (one mask) or per-photo masks from a whole folder,
through ``model.jobs.batch`` — the same code as ``python main.py batch``."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QProgressBar, QPushButton,
                               QListWidgetItem, QRadioButton, QVBoxLayout, QWidget)

from .. import messages
from ..settings import Settings
from ..workers import Worker

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
OK_STATUSES = ("done", "ok", "written", "resumed")


# model.jobs.batch.MASK_FITS, as the user reads them
MASK_FIT_LABELS = {
    "error": "Refuse (report the photo)",
    "stretch": "Stretch the mask to the photo",
    "anchor-topleft": "Same pixel size, top-left corner",
    "anchor-topright": "Same pixel size, top-right corner",
    "anchor-bottomleft": "Same pixel size, bottom-left corner",
    "anchor-bottomright": "Same pixel size, bottom-right corner",
    "anchor-center": "Same pixel size, centred",
}


def for_the_dialog(reason: str) -> str:
    """A batch message written for the command line, with the dialog's words."""
    return reason.replace("(use --mask-fit to map it)", "(choose how under 'Mask of another size')") \
                 .replace("--mask-fit", "'Mask of another size'")


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    return QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888).copy()


class WatermarkPreview(QDialog):
    """Shows an estimated watermark mask over one of the photos; the user
    approves it (``approved(mask)``) or not."""

    approved = Signal(object)

    def __init__(self, parent: QWidget | None, result, photo: np.ndarray | None):
        super().__init__(parent)
        self.setWindowTitle("Estimated watermark")
        self.result = result
        w, h = result.size
        box = result.bbox
        area = int(result.mask.sum())
        text = (f"What stays the same at the same place in {len(result.used)} photos of {w} × {h}: "
                f"box x {box[0]}–{box[2]}, y {box[1]}–{box[3]}, {100 * area / (w * h):.2f} % of the photo "
                "(red). Use it as the mask for this batch?")
        if result.other_sizes:
            text += (f"\n{result.other_sizes} photos have another size: choose how the mask fits them "
                     "under 'Mask of another size'.")
        info = QLabel(text)
        info.setWordWrap(True)
        base = photo if photo is not None and photo.shape[:2] == result.mask.shape else \
            np.full(result.mask.shape + (3,), 90, np.uint8)
        shown = base.copy()
        shown[result.mask] = (base[result.mask] * 0.35 + np.array([255, 30, 60]) * 0.65).astype(np.uint8)
        pixmap = QPixmap.fromImage(_qimage(shown))
        self.preview = QLabel()
        self.preview.setPixmap(pixmap.scaled(760, 480, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        buttons = QDialogButtonBox()
        self.use_button = buttons.addButton("Use this mask", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._use)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(info)
        layout.addWidget(self.preview, 1)
        layout.addWidget(buttons)

    def _use(self) -> None:
        self.approved.emit(self.result.mask)
        self.accept()


REVIEW_LIMIT = 100  # the least confident results get a row (with thumbnails) in the review list
THUMB = 96  # thumbnail height in pixels


def review_thumbnails(before_path: str, after_path: str, height: int = THUMB) -> np.ndarray:
    """before | after of the changed region (RGB), ``height`` px tall: the
    region is where the two differ (the removal), with context around it."""
    import cv2

    from model.photos.imageio import read_image
    before, after = read_image(before_path), read_image(after_path)
    if before.shape != after.shape:
        after = cv2.resize(after, (before.shape[1], before.shape[0]), interpolation=cv2.INTER_AREA)
    changed = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > 24
    h, w = changed.shape
    ys, xs = np.nonzero(changed)
    if len(xs) > 20:
        x0, x1 = np.percentile(xs, [0.5, 99.5]).astype(int)
        y0, y1 = np.percentile(ys, [0.5, 99.5]).astype(int)
        side = max(x1 - x0, y1 - y0, 32) * 1.6  # square-ish, with context
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x0, x1 = int(max(0, cx - side / 2)), int(min(w, cx + side / 2))
        y0, y1 = int(max(0, cy - side / 2)), int(min(h, cy + side / 2))
    else:
        x0, y0, x1, y1 = 0, 0, w, h
    tiles = []
    for im in (before, after):
        crop = im[y0:y1, x0:x1]
        scale = height / crop.shape[0]
        tiles.append(cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), height), interpolation=cv2.INTER_AREA))
    gap = np.full((height, 4, 3), 255, np.uint8)
    return np.ascontiguousarray(np.concatenate([tiles[0], gap, tiles[1]], axis=1))


def review_order(records) -> list:
    """Cleaned photos with a confidence, least confident first."""
    scored = [r for r in records if r.status == "done" and getattr(r, "confidence", None) is not None]
    return sorted(scored, key=lambda r: r.confidence)


def _count(value) -> int:
    """Summary fields may be counts or lists of paths."""
    return value if isinstance(value, int) else len(value)


class BatchDialog(QDialog):
    open_requested = Signal(str, str)  # (cleaned photo, original): open it in the editor for a manual fix

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
        self.estimate_button = QPushButton("Estimate watermark from the photos…")
        self.estimate_button.setToolTip("Find what is the same at the same place in the photos (a watermark, "
                                        "a date stamp) and show it for approval")
        self.estimate_button.clicked.connect(self.estimate_watermark)
        grid.addWidget(self.estimate_button, 3, 1, 1, 2)
        self.mask_fit = QComboBox()
        from model.jobs.batch import MASK_FITS
        for rule in MASK_FITS:
            self.mask_fit.addItem(MASK_FIT_LABELS.get(rule, rule), rule)
        self.mask_fit.setToolTip("When a photo's size differs from the mask's: refuse it, stretch the mask, "
                                 "or keep the mask's pixel size pinned to a corner (watermarks)")
        grid.addWidget(QLabel("Mask of another size:"), 4, 0)
        grid.addWidget(self.mask_fit, 4, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.estimate_worker: Worker | None = None
        self.watermark_preview: WatermarkPreview | None = None

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("ready")
        self.current = QLabel("")
        self.current.setWordWrap(True)
        self.errors_label = QLabel("Problems:")
        self.errors = QListWidget()
        self.errors.setMinimumHeight(90)
        self.review_label = QLabel("Review, least confident first (click one to fix it in the editor):")
        self.review = QListWidget()
        self.review.setIconSize(QSize(3 * THUMB, THUMB))
        self.review.setMinimumHeight(THUMB + 24)
        self.review.setToolTip("before | after of each removal, the results the model is least sure of first")
        self.review.itemActivated.connect(self._open_reviewed)
        self.review.itemClicked.connect(self._open_reviewed)
        self.review_label.hide()
        self.review.hide()
        self.review_worker: Worker | None = None

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
        layout.addWidget(self.review_label)
        layout.addWidget(self.review, 3)
        layout.addLayout(buttons)
        self.resize(760, 560)

    # ------------------------------------------------------------------ run
    def options(self):
        """BatchOptions from the form (the current mask goes to a temp PNG)."""
        from model.jobs.batch import BatchOptions
        from model.photos.imageio import write_mask

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
                            mask=mask, masks_dir=masks_dir, mask_fit=self.mask_fit.currentData())

    def is_running(self) -> bool:
        return self.worker is not None

    # ------------------------------------------------------------ watermark
    def estimate_watermark(self) -> None:
        """Estimate the shared watermark of the photo folder (model.jobs.watermark,
        as ``main.py watermark-mask``) on a worker, then show it for approval."""
        folder = Path(self.input_dir.text().strip())
        if not self.input_dir.text().strip() or not folder.is_dir():
            messages.message(self, messages.ERROR, "No photo folder",
                             "Choose the folder of photos first: the watermark is what they share.")
            return
        if self.estimate_worker is not None:
            return

        def job(report, should_stop):
            from model.photos.imageio import read_image
            from model.jobs.watermark import watermark_mask_from_folder
            result = watermark_mask_from_folder(folder)
            photo = read_image(result.used[0]) if result.used else None
            return result, photo

        self.estimate_button.setEnabled(False)
        self.current.setText(f"Looking for a shared watermark in {folder}…")
        self.estimate_worker = Worker(job, self, finished=self._estimated, failed=self._estimate_failed,
                                      done=self._estimate_done).start()

    def _estimated(self, value) -> None:
        result, photo = value
        if result.bbox is None:
            self.current.setText("")
            messages.message(self, messages.INFO, "No watermark found",
                             f"Nothing stays the same at the same place in {len(result.used)} photos of "
                             f"{result.size[0]} × {result.size[1]}.")
            return
        self.current.setText("")
        self.watermark_preview = WatermarkPreview(self, result, photo)
        self.watermark_preview.approved.connect(self.use_estimated_mask)
        self.watermark_preview.show()

    def use_estimated_mask(self, mask: np.ndarray) -> None:
        from model.photos.imageio import write_mask
        path = Path(self._tmp.name) / "estimated_watermark.png"
        write_mask(path, mask)
        self.mask_file.setText(str(path))
        self.use_file.setChecked(True)
        h, w = mask.shape
        self.current.setText(f"Using the estimated watermark mask ({w} × {h}).")

    def _estimate_failed(self, exc: BaseException) -> None:
        self.current.setText("")
        messages.message(self, messages.ERROR, "Cannot estimate a watermark", str(exc))

    def _estimate_done(self) -> None:
        self.estimate_worker = None
        self.estimate_button.setEnabled(True)

    def start(self) -> None:
        if self.worker is not None:
            return
        try:
            from model.jobs.batch import BatchError, run_batch, validate_options
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
            messages.message(self, messages.ERROR, "Cannot start the batch", for_the_dialog(str(exc)))
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
            self.errors.addItem(for_the_dialog(f"{name}: {status}"))

    def _on_finished(self, summary) -> None:
        self.summary = summary
        # the summary is authoritative: list every failure with its reason
        self.errors.clear()
        for path, reason in summary.failed:
            self.errors.addItem(for_the_dialog(f"{Path(path).name}: {reason}"))
        stopped = getattr(summary, "stopped", False) or (self.worker is not None and self.worker.is_cancelling())
        self.current.setText(f"{'Cancelled' if stopped else 'Finished'}: {_count(summary.done)} done, "
                             f"{_count(summary.skipped)} skipped, {len(summary.failed)} failed "
                             f"in {summary.seconds:.1f} s"
                             + (f" → {summary.output_dir}" if getattr(summary, "output_dir", "") else ""))
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
        self.show_review(summary.records)

    # --------------------------------------------------------------- review
    def show_review(self, records) -> None:
        """List the cleaned photos least confident first; thumbnails are made
        on a worker and arrive row by row."""
        self.review.clear()
        order = review_order(records)
        if not order:
            self.review_label.hide()
            self.review.hide()
            return
        shown = order[:REVIEW_LIMIT]
        more = f" (the {len(shown)} least confident of {len(order)})" if len(order) > len(shown) else ""
        self.review_label.setText(f"Review, least confident first{more}: click one to fix it in the editor")
        for record in shown:
            item = QListWidgetItem(f"{record.confidence:.2f}  {record.relpath}")
            item.setData(Qt.ItemDataRole.UserRole, (record.output, record.path))
            item.setToolTip(f"confidence {record.confidence:.3f} (low: look at it)\n{record.path}\n→ {record.output}")
            self.review.addItem(item)
        self.review_label.show()
        self.review.show()
        if self.review_worker is not None:
            self.review_worker.cancel()
        pairs = [(r.path, r.output) for r in shown]

        def job(report, should_stop):
            for row, (before, after) in enumerate(pairs):
                if should_stop():
                    return None
                try:
                    report((row, review_thumbnails(before, after)))
                except Exception:  # noqa: BLE001 - a photo that cannot be read just has no thumbnail
                    continue
            return len(pairs)

        worker = Worker(job, self, progress=self._thumbnail_ready)
        worker.done.connect(lambda w=worker: self._review_done(w))
        self.review_worker = worker.start()

    def _thumbnail_ready(self, value) -> None:
        row, rgb = value
        item = self.review.item(row)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(_qimage(rgb))))

    def _review_done(self, worker) -> None:
        if self.review_worker is worker:
            self.review_worker = None

    def _open_reviewed(self, item: QListWidgetItem) -> None:
        output, original = item.data(Qt.ItemDataRole.UserRole)
        self.open_requested.emit(str(output), str(original))

    def _on_failed(self, exc: BaseException) -> None:
        self.current.setText(f"Stopped: {exc}")
        messages.message(self, messages.ERROR, "Batch failed", str(exc))

    def _on_done(self) -> None:
        self.worker = None
        self._set_running(False)

    def closeEvent(self, event) -> None:  # noqa: N802
        for worker in (self.worker, self.estimate_worker, self.review_worker):
            if worker is not None:
                worker.cancel()
                worker.wait(60000)
        self._tmp.cleanup()
        event.accept()
