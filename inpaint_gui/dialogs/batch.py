"""Remove the same region (one mask) or per-photo masks from a whole folder,
or restore the photos under a shared semi-transparent watermark, through
``model.jobs.batch`` — the same code as ``python main.py batch`` (with
``--watermark auto --sample N`` for the restoration)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPushButton, QRadioButton, QSpinBox,
                               QVBoxLayout, QWidget)

from model.jobs.options import MASK_FITS
from model.jobs.errors import BatchError
from model.jobs.options import BatchOptions
from model.jobs.mask_fit import fit_mask
from model.jobs.report import BatchProgress
from model.jobs.batch import run_batch
from model.jobs.validation import validate_options
from model.photos.imageio import ImageReadError
from model.photos.imageio import image_size
from model.photos.imageio import read_image
from model.photos.imageio import read_mask
from model.photos.imageio import write_mask
from model.jobs.watermark_options import MIN_PHOTOS
from model.jobs.watermark_options import SAMPLE
from model.jobs.watermark_model import NoWatermarkError
from model.jobs.watermark_model import Watermark
from model.jobs.watermark_estimate import watermark_from_folder
from model.jobs.watermark_restore import prepare_batch

from .. import messages
from ..document import IMAGE_FILTER
from ..settings import Settings
from ..workers import Worker
from .job import Job, JobDialog
from .watermark import RestorePreview, WatermarkPreview, qimage

# model.jobs.options.MASK_FITS, as the user reads them
MASK_FIT_LABELS = {
    "error": "Refuse (report the photo)",
    "stretch": "Stretch the mask to the photo",
    "anchor-topleft": "Same pixel size, top-left corner",
    "anchor-topright": "Same pixel size, top-right corner",
    "anchor-bottomleft": "Same pixel size, bottom-left corner",
    "anchor-bottomright": "Same pixel size, bottom-right corner",
    "anchor-center": "Same pixel size, centred",
}
# restoring, "error" means: search each photo of another size for the mark (model.jobs.watermark_placement.place_mark)
SEARCH_LABEL = "Search for the mark (report the photo if not found)"


# the options an engine error names (BatchOptions' fields, prepare_batch's), as this dialog's controls
CONTROL_NAMES = {
    "mask": "'One mask file'",
    "masks_dir": "'A mask folder'",
    "mask_fit": "'Mask of another size'",
    "watermark": "'Shared watermark'",
    "sample": "'Estimate from up to'",
}
# what to change when an option's value refused a photo (PhotoRefused)
REFUSED_HINTS = {"mask_fit": "choose how under 'Mask of another size'"}


def failure_line(name: str, reason: str, option: str = "") -> str:
    """A photo the batch could not clean, and what to change where an option refused it."""
    hint = REFUSED_HINTS.get(option)
    return f"{name}: {reason} ({hint})" if hint else f"{name}: {reason}"


def photo_of_its_size(mark: Watermark) -> np.ndarray | None:
    """One of the photos the mark was estimated from, of the size it is shown
    at (photos of several sizes: the estimate's frame), to show it on."""
    for path in mark.used:
        try:
            if image_size(path) == mark.size:
                return read_image(path)
        except ImageReadError:
            continue
    return None


def is_failure(progress: BatchProgress) -> bool:
    """A photo the batch could not clean."""
    return progress.outcome == "failed"


REVIEW_LIMIT = 100  # the least confident results get a row (with thumbnails) in the review list
THUMB = 88  # thumbnail height in pixels
OUTLINE = (255, 40, 80)  # the mask's outline on the before thumbnail: the editor's mask colour
REVIEW_HINT = "Review, least confident first: after a run, click one to fix it in the editor"


def review_thumbnails(before_path: str, after_path: str,
                      mask_for: Callable[[int, int], np.ndarray | None] | None = None,
                      height: int = THUMB) -> np.ndarray:
    """before | after of the removed region (RGB), ``height`` px tall, with
    the mask's outline drawn on the before side (a thin stroke shrunk to a
    thumbnail is otherwise hard to find). ``mask_for(height, width)``: the
    mask as applied to a photo of that size; without one (or None), where
    the two differ (the removal)."""
    before, after = read_image(before_path), read_image(after_path)
    if before.shape != after.shape:
        after = cv2.resize(after, (before.shape[1], before.shape[0]), interpolation=cv2.INTER_AREA)
    h, w = before.shape[:2]
    hole = mask_for(h, w) if mask_for is not None else None
    if hole is None or hole.shape != (h, w):
        changed = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2) > 24
        hole = cv2.dilate(changed.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) \
            if changed.sum() > 20 else np.zeros((h, w), bool)
    ys, xs = np.nonzero(hole)
    if len(xs) > 0:
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
    # the outline at thumbnail scale: any covered thumbnail pixel is inside, so a 1 px line stays
    small = cv2.resize(hole[y0:y1, x0:x1].astype(np.float32), tiles[0].shape[1::-1], interpolation=cv2.INTER_AREA)
    contours, _ = cv2.findContours((small > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    tiles[0] = np.ascontiguousarray(tiles[0])
    cv2.drawContours(tiles[0], contours, -1, OUTLINE, 1)
    gap = np.full((height, 4, 3), 255, np.uint8)
    return np.ascontiguousarray(np.concatenate([tiles[0], gap, tiles[1]], axis=1))


def review_mask(opts: BatchOptions | None, height: int, width: int) -> np.ndarray | None:
    """The run's one mask fitted to a photo of this size, as the batch applied
    it; None for per-photo masks, a restoration, or a photo it did not fit."""
    if opts is None or opts.mask is None:
        return None
    try:
        return fit_mask(read_mask(opts.mask), height, width, opts.mask_fit)
    except (ImageReadError, ValueError):
        return None


def review_order(records) -> list:
    """Cleaned photos with a confidence, least confident first."""
    scored = [r for r in records if r.status == "done" and r.confidence is not None]
    return sorted(scored, key=lambda r: r.confidence)



class BatchDialog(JobDialog):
    open_requested = Signal(str, str)  # (cleaned photo, original): open it in the editor for a manual fix

    cancelling_text = "Cancelling after the current photo…"
    failed_status = "Stopped"
    failed_title = "Batch failed"
    control_names = CONTROL_NAMES

    def __init__(self, parent: QWidget | None, inpainter: Callable[[], object],
                 current_mask: np.ndarray | None = None, settings: Settings | None = None):
        super().__init__(parent, "Batch removal")
        self._inpainter = inpainter
        self._current_mask = current_mask
        self._tmp = tempfile.TemporaryDirectory(prefix="inpaint-batch-")
        self.summary = None
        self.notes: list[str] = []  # what the restoration said about photos of other sizes
        self.restore_mark: Watermark | None = None  # the approved mark to restore, for restore_source
        self.restore_source: tuple[str, int] | None = None  # (folder, sample) the mark was estimated from

        self.input_dir = QLineEdit()
        self.input_dir.setPlaceholderText("folder with the photos")
        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("empty: PHOTO_FOLDER_cleaned next to the photo folder")

        self.use_current = QRadioButton("The current mask")
        self.use_file = QRadioButton("One mask file:")
        self.use_folder = QRadioButton("A mask folder:")
        self.use_folder.setToolTip("One mask per photo, matched by file name")
        self.use_restore = QRadioButton("Shared watermark: restore the photos under it (invert the blend)")
        self.use_restore.setToolTip("Estimate the semi-transparent mark the photos share (opacity and colour), "
                                    "show it for approval, then recover the photo under it instead of "
                                    "repainting; the model fills only where the mark is opaque")
        self.mask_file = QLineEdit()
        self.masks_dir = QLineEdit()
        group = QButtonGroup(self)
        for b in (self.use_current, self.use_file, self.use_folder, self.use_restore):
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
        grid.addWidget(self.use_restore, 4, 0, 1, 3)
        self.sample = QSpinBox()
        self.sample.setRange(MIN_PHOTOS, 100_000)
        self.sample.setValue(SAMPLE)
        self.sample.setSuffix(" photos")
        self.sample.setToolTip("How many photos of the folder the mark is estimated from, "
                               "for either estimate (watermark-mask / batch --sample)")
        self.restore_button = QPushButton("Estimate and preview…")
        self.restore_button.setToolTip("Estimate the shared mark now and show it; approving it runs the batch")
        self.restore_button.clicked.connect(self.estimate_restoration)
        sample_row = QHBoxLayout()
        sample_row.addWidget(QLabel("Estimate from up to"))
        sample_row.addWidget(self.sample)
        sample_row.addStretch(1)
        sample_row.addWidget(self.restore_button)
        grid.addLayout(sample_row, 5, 1, 1, 2)
        self.mask_fit = QComboBox()
        for rule in MASK_FITS:
            self.mask_fit.addItem(MASK_FIT_LABELS.get(rule, rule), rule)
        self.mask_fit.setToolTip("When a photo's size differs from the mask's: refuse it, stretch the mask, "
                                 "or keep the mask's pixel size pinned to a corner (watermarks)")
        grid.addWidget(QLabel("Mask of another size:"), 6, 0)
        grid.addWidget(self.mask_fit, 6, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.estimate_worker: Worker | None = None  # either estimate: the mask, or the mark to restore
        self.watermark_preview: WatermarkPreview | None = None
        self.restore_preview: RestorePreview | None = None
        self.use_restore.toggled.connect(self._restore_mode_changed)
        self._restore_mode_changed(False)

        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("ready")
        self.errors_label = QLabel("Problems:")
        self.errors = QListWidget()
        self.errors.setMinimumHeight(90)
        self.review_label = QLabel(REVIEW_HINT)
        self.review_label.setWordWrap(True)
        self.review = QListWidget()
        self.review.setIconSize(QSize(3 * THUMB, THUMB))
        self.review.setMinimumWidth(3 * THUMB + 140)
        self.review.setToolTip("before (the mask outlined) | after of each removal, the results the model is "
                               "least sure of first")
        self.review.itemActivated.connect(self._open_reviewed)
        self.review.itemClicked.connect(self._open_reviewed)
        self.review_worker: Worker | None = None
        self.run_options: BatchOptions | None = None  # the options of the run the review shows
        self.locked_while_running.append(self.close_button)

        # the form and the run's progress on the left; the review gets the whole height on the right
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(masks)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.errors_label)
        left.addWidget(self.errors, 1)
        right = QVBoxLayout()
        right.addWidget(self.review_label)
        right.addWidget(self.review, 1)
        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addLayout(self.buttons)
        self.resize(1180, 680)

    # ------------------------------------------------------------------ run
    def options(self) -> BatchOptions:
        """BatchOptions from the form (the current mask goes to a temp PNG;
        restoring, there is no mask: prepare_batch makes the run's own)."""
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

    def prepare(self) -> Job | None:
        if self.use_restore.isChecked() and not self._has_restore_mark():
            # estimate first; approving the mark starts the run
            self.estimate_restoration()
            return None
        inpainter = self._inpainter()
        if inpainter is None:
            messages.message(self, messages.WARNING, "Model not ready",
                             "The model is still loading (or failed to load; see Settings). Try again in a moment.")
            return None
        try:
            opts = self.options()
            restorer = None
            if self.use_restore.isChecked():
                # as ``batch --watermark auto``: the approved estimate saved to the output folder, then restored
                opts, restorer = prepare_batch(opts, self.restore_mark)
            validate_options(opts, finds_hole=restorer is not None)
        except (BatchError, ValueError, OSError) as exc:
            messages.message(self, messages.ERROR, "Cannot start the batch", self.in_own_words(exc))
            return None

        self.errors.clear()
        self.notes = []
        self.summary = None
        self._clear_review()  # the last run's review is not this run's
        self.run_options = opts if restorer is None else None
        self.progress.setFormat("%v / %m photos")
        self.progress.setRange(0, 0)  # until the first report tells the total
        self.status.setText("Starting…")

        def job(report, should_stop):
            model = inpainter
            if restorer is not None:
                restorer.note = report  # "photo of another size: mark found at ..." (a str, on this thread)
                model = restorer.bind(inpainter)
            return run_batch(opts, model, progress=report, should_stop=should_stop)

        return job

    def on_progress(self, info: BatchProgress | str) -> None:
        if isinstance(info, str):  # a note of the restoration
            self.notes.append(info)
            self.errors.addItem(info)
            return
        self.progress.setRange(0, max(1, info.total))
        self.progress.setValue(info.done)
        name = Path(info.path).name if info.path else ""
        self.status.setText(f"{info.status}: {name}" if name else str(info.status))
        if is_failure(info):
            self.errors.addItem(failure_line(name, info.status, info.option))

    def on_finished(self, summary) -> None:
        self.summary = summary
        # the summary is authoritative: list every failure with its reason (and the restoration's notes)
        self.errors.clear()
        for note in self.notes:
            self.errors.addItem(note)
        refused_by = {record.path: record.option for record in summary.records if record.status == "failed"}
        for path, reason in summary.failed:
            self.errors.addItem(failure_line(Path(path).name, reason, refused_by.get(path, "")))
        stopped = summary.stopped or self.is_cancelling()
        self.status.setText(f"{'Cancelled' if stopped else 'Finished'}: {summary.done} done, "
                            f"{summary.skipped} skipped, {len(summary.failed)} failed "
                            f"in {summary.seconds:.1f} s"
                            + (f" → {summary.output_dir}" if summary.output_dir else ""))
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
        self.show_review(summary.records)

    # ------------------------------------------------------------ watermark
    def _photo_folder(self) -> Path | None:
        """The photo folder, or None after telling the user to choose one."""
        folder = Path(self.input_dir.text().strip())
        if not self.input_dir.text().strip() or not folder.is_dir():
            messages.message(self, messages.ERROR, "No photo folder",
                             "Choose the folder of photos first: the watermark is what they share.")
            return None
        return folder

    def _start_estimate(self, job: Job, finished: Callable, failed: Callable, text: str) -> None:
        self.estimate_button.setEnabled(False)
        self.restore_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self.status.setText(text)
        self.estimate_worker = Worker(job, self, progress=self._estimate_progress, finished=finished,
                                      failed=failed, done=self._estimate_done).start()

    def _estimate_progress(self, value: tuple[int, int]) -> None:
        done, total = value
        self.progress.setFormat("reading photos: %v / %m")
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _estimate_done(self) -> None:
        self.estimate_worker = None
        self.estimate_button.setEnabled(True)
        self.restore_button.setEnabled(True)
        self.start_button.setEnabled(self.worker is None)
        self.progress.setFormat("ready")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    def estimate_watermark(self) -> None:
        """Estimate the shared watermark of the photo folder on a worker, as
        ``main.py watermark-mask`` does (``watermark_from_folder``), then show
        its mask for approval (repainted like any mask)."""
        folder = self._photo_folder()
        if folder is None or self.estimate_worker is not None:
            return
        sample = self.sample.value()

        def job(report, should_stop):
            mark = watermark_from_folder(folder, sample, progress=lambda done, total: report((done, total)))
            photo = photo_of_its_size(mark)
            return mark, photo

        self._start_estimate(job, self._estimated, self._estimate_failed,
                             f"Looking for a shared watermark in up to {sample} photos of {folder}…")

    def _estimated(self, value) -> None:
        mark, photo = value
        self.status.setText("")
        self.watermark_preview = WatermarkPreview(self, mark, photo)
        self.watermark_preview.approved.connect(self.use_estimated_mask)
        self.watermark_preview.show()

    def use_estimated_mask(self, mask: np.ndarray) -> None:
        path = Path(self._tmp.name) / "estimated_watermark.png"
        write_mask(path, mask)
        self.mask_file.setText(str(path))
        self.use_file.setChecked(True)
        h, w = mask.shape
        self.status.setText(f"Using the estimated watermark mask ({w} × {h}).")

    # ---------------------------------------------------------- restoration
    def _restore_mode_changed(self, restoring: bool) -> None:
        self.restore_button.setEnabled(restoring and self.estimate_worker is None)
        self.mask_fit.setItemText(self.mask_fit.findData("error"), SEARCH_LABEL if restoring
                                  else MASK_FIT_LABELS["error"])

    def _restore_source(self) -> tuple[str, int]:
        return str(Path(self.input_dir.text().strip()).resolve()), self.sample.value()

    def _has_restore_mark(self) -> bool:
        """An approved mark, estimated from the folder and sample the form names now."""
        return self.restore_mark is not None and self.restore_source == self._restore_source()

    def estimate_restoration(self) -> None:
        """Estimate the folder's shared mark (opacity and colour) on a worker,
        as ``batch --watermark auto --sample N`` does, then show it for
        approval; approving runs the batch with it."""
        folder = self._photo_folder()
        if folder is None or self.estimate_worker is not None:
            return
        self.use_restore.setChecked(True)
        sample = self.sample.value()
        source = self._restore_source()

        def job(report, should_stop):
            mark = watermark_from_folder(folder, sample, progress=lambda done, total: report((done, total)))
            photo = photo_of_its_size(mark)
            return source, mark, photo

        self._start_estimate(job, self._restoration_estimated, self._estimate_failed,
                             f"Estimating the shared watermark from up to {sample} photos of {folder}…")

    def _restoration_estimated(self, value) -> None:
        source, mark, photo = value
        self.status.setText("")
        self.restore_preview = RestorePreview(self, mark, photo)
        self.restore_preview.approved.connect(lambda approved: self.restore_with(approved, source))
        self.restore_preview.show()

    def _estimate_failed(self, exc: BaseException) -> None:
        self.status.setText("")
        if isinstance(exc, NoWatermarkError):  # an answer, not an error: the photos share no mark
            messages.message(self, messages.INFO, "No watermark found",
                             f"Nothing to remove or restore: {exc}.\n\nThe photos do not share a semi-transparent "
                             "mark at the same place (or scaled to each by one rule), or it is too faint to estimate.")
        else:
            messages.message(self, messages.ERROR, "Cannot estimate a watermark", str(exc))

    def restore_with(self, mark: Watermark, source: tuple[str, int]) -> None:
        """The user approved ``mark`` (estimated from ``source``): run the batch with it."""
        self.restore_mark, self.restore_source = mark, source
        self.use_restore.setChecked(True)
        self.start()

    # --------------------------------------------------------------- review
    def _clear_review(self) -> None:
        if self.review_worker is not None:
            self.review_worker.cancel()
            self.review_worker = None
        self.review.clear()
        self.review_label.setText(REVIEW_HINT)

    def show_review(self, records) -> None:
        """List the cleaned photos least confident first; thumbnails are made
        on a worker and arrive row by row."""
        self._clear_review()
        order = review_order(records)
        if not order:
            self.review_label.setText("Review: no cleaned photo in this run")
            return
        shown = order[:REVIEW_LIMIT]
        more = f" (the {len(shown)} least confident of {len(order)})" if len(order) > len(shown) else ""
        self.review_label.setText(f"Review, least confident first{more}: click one to fix it in the editor")
        for record in shown:
            item = QListWidgetItem(f"{record.confidence:.2f}  {record.relpath}")
            item.setData(Qt.ItemDataRole.UserRole, (record.output, record.path))
            item.setToolTip(f"confidence {record.confidence:.3f} (low: look at it)\n{record.path}\n→ {record.output}")
            self.review.addItem(item)
        pairs = [(r.path, r.output) for r in shown]
        opts = self.run_options

        def job(report, should_stop):
            for row, (before, after) in enumerate(pairs):
                if should_stop():
                    return None
                try:
                    report((row, review_thumbnails(before, after, lambda h, w: review_mask(opts, h, w))))
                except Exception:  # noqa: BLE001 - a photo that cannot be read just has no thumbnail
                    continue
            return len(pairs)

        worker = Worker(job, self)
        # a cleared review's late thumbnails are dropped
        worker.progress.connect(lambda value, w=worker: self._thumbnail_ready(value) if self.review_worker is w
                                else None)
        worker.done.connect(lambda w=worker: self._review_done(w))
        self.review_worker = worker.start()

    def _thumbnail_ready(self, value) -> None:
        row, rgb = value
        item = self.review.item(row)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(qimage(rgb))))

    def _review_done(self, worker) -> None:
        if self.review_worker is worker:
            self.review_worker = None

    def _open_reviewed(self, item: QListWidgetItem) -> None:
        output, original = item.data(Qt.ItemDataRole.UserRole)
        self.open_requested.emit(str(output), str(original))

    def shutdown(self) -> None:
        for worker in (self.estimate_worker, self.review_worker):
            if worker is not None:
                worker.cancel()
                worker.wait(self.close_wait_ms)
        self._tmp.cleanup()
