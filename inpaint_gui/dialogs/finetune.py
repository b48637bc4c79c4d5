"""Fine-tune the model on a folder of the user's photos (``model.training.trainer``),
with a live loss curve (QPainter) and the latest preview sheet."""
from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (QDialog, QFormLayout, QGraphicsScene, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QPushButton, QSizePolicy, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from model.option import default_of
from model.photos.imageio import read_image
from model.paths import user_data_dir
from model.training.options import TrainOptions

from .. import messages
from ..settings import Settings
from ..views import ImageItem, ZoomView
from .job import Job, JobDialog
from .settings import device_combo

Button = messages.Button

def recipe_text() -> str:
    """The recipe the dialog runs: TrainOptions' defaults, the same as ``main.py train``'s."""
    lr, schedule = default_of(TrainOptions, "lr"), default_of(TrainOptions, "lr_schedule")
    extra = default_of(TrainOptions, "lambda_corr") or default_of(TrainOptions, "lambda_style")
    return (f"{'L1 + correlation + style losses' if extra else 'plain L1'}, learning rate {lr:g}"
            f"{' decaying (cosine)' if schedule == 'cosine' else ''}; the weights are kept only if "
            f"validation improves")


MIN_GAIN_DB = 0.01  # validation gain (dB) below which the new weights are not offered


class ClickableLabel(QLabel):
    clicked = Signal()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class SheetWindow(QDialog):
    """A preview sheet at 100 % (as large as the screen allows), in a view
    that pans and zooms like the editor's."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = ZoomView()
        self.view.setDragMode(ZoomView.DragMode.ScrollHandDrag)
        self.view.setScene(QGraphicsScene(self))
        self.item = ImageItem()
        self.view.scene().addItem(self.item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def show_sheet(self, path: Path) -> None:
        image = read_image(path)
        h, w = image.shape[:2]
        self.item.set_image(image)
        self.view.scene().setSceneRect(QRectF(0, 0, w, h))
        self.setWindowTitle(f"Preview sheet: {path.name} (input | mask | coarse | refined | truth)")
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        limit_w, limit_h = (screen.width() - 40, screen.height() - 80) if screen is not None else (w, h)
        self.resize(min(w + 4, limit_w), min(h + 4, limit_h))
        self.view.actual_size()


class LossPlot(QWidget):
    """Training loss per step (total and L1), log-scaled y, drawn with QPainter."""

    SERIES = (("total", QColor(230, 50, 90)), ("l1", QColor(40, 120, 220)))

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.points: dict[str, list[tuple[int, float]]] = {name: [] for name, _ in self.SERIES}
        self.total_steps = 1
        self.setMinimumSize(360, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def clear(self, total_steps: int = 1) -> None:
        self.points = {name: [] for name, _ in self.SERIES}
        self.total_steps = max(1, total_steps)
        self.update()

    def add(self, step: int, losses: dict[str, float]) -> None:
        for name, _ in self.SERIES:
            value = losses.get(name)
            if value is not None and math.isfinite(value) and value > 0:
                self.points[name].append((step, float(value)))
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(255, 255, 255))
        left, top, right, bottom = 52, 12, 12, 28
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        p.setPen(QPen(QColor(210, 210, 215), 1))
        p.drawRect(plot)
        values = [v for series in self.points.values() for _, v in series]
        p.setPen(QColor(90, 90, 100))
        if not values:
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "the loss curve appears here")
            return
        lo, hi = math.log10(min(values)), math.log10(max(values))
        if hi - lo < 0.1:
            lo, hi = lo - 0.05, hi + 0.05

        def to_xy(step: int, value: float) -> QPointF:
            x = plot.left() + plot.width() * step / self.total_steps
            y = plot.bottom() - plot.height() * (math.log10(value) - lo) / (hi - lo)
            return QPointF(x, y)

        # y ticks (log scale), x ticks (steps)
        p.setPen(QColor(120, 120, 130))
        font = p.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        for i in range(5):
            frac = i / 4
            y = plot.bottom() - plot.height() * frac
            value = 10 ** (lo + (hi - lo) * frac)
            p.setPen(QColor(235, 235, 240))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(QColor(110, 110, 120))
            p.drawText(QRectF(0, y - 8, left - 6, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       f"{value:.3g}")
            x = plot.left() + plot.width() * frac
            p.drawText(QRectF(x - 40, plot.bottom() + 4, 80, 16), Qt.AlignmentFlag.AlignHCenter,
                       f"{round(self.total_steps * frac)}")
        p.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), 22),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, "step")

        for i, (name, colour) in enumerate(self.SERIES):
            series = self.points[name]
            if not series:
                continue
            path = QPainterPath(to_xy(*series[0]))
            for step, value in series[1:]:
                path.lineTo(to_xy(step, value))
            p.setPen(QPen(colour, 1.8))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            if len(series) == 1:
                p.setBrush(colour)
                p.drawEllipse(to_xy(*series[0]), 2.5, 2.5)
            # legend
            lx, ly = plot.right() - 110, plot.top() + 8 + 16 * i
            p.setPen(QPen(colour, 3))
            p.drawLine(QPointF(lx, ly + 6), QPointF(lx + 18, ly + 6))
            p.setPen(QColor(60, 60, 70))
            p.drawText(QRectF(lx + 24, ly - 2, 90, 16), Qt.AlignmentFlag.AlignVCenter,
                       f"{name} {series[-1][1]:.4f}")


def _format_eta(seconds: float) -> str:
    if seconds <= 0 or not math.isfinite(seconds):
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def weights_for_app(best: Path, start: Path | None) -> Path:
    """best.pt, saved again as ``best_app.pt`` to run at the starting weights'
    settings (run size and scales). The trainer records its crop size as the
    run size; the bundled model runs at 512 px with three scales, and running
    fine-tuned weights at 256 px instead cost 0.30 dB on the evaluation photos
    (docs/gui.md, "Fine-tune"), more than fine-tuning changed."""
    from dataclasses import replace

    from model.checkpoint import load_network, read_checkpoint, save_weights
    from model.network import NetConfig
    from model.paths import resolve_weights

    start_cfg = NetConfig.from_dict(read_checkpoint(resolve_weights(start))["config"])
    net, ckpt = load_network(best)
    net.cfg = replace(net.cfg, run_size=start_cfg.run_size, run_scales=start_cfg.run_scales)
    out = best.with_name("best_app.pt")
    save_weights(net, out, **dict(ckpt.get("meta", {}), source=str(best),
                                  note="fine-tuned; runs at the starting weights' run size and scales"))
    return out


class FinetuneDialog(JobDialog):
    weights_ready = Signal(str)  # the user chose to switch to these weights

    cancelling_text = "Stopping after this step and saving…"
    failed_title = "Fine-tuning failed"
    control_names = {"data_dir": "'Photos'", "out_dir": "'Save run to'", "steps": "'Steps'", "batch_size": "'Batch'",
                     "size": "'Crop'", "device": "'Device'"}

    def __init__(self, parent: QWidget | None = None, settings: Settings | None = None):
        super().__init__(parent, "Fine-tune the model", cancel_label="Stop")
        self.settings = settings or Settings()
        self.result = None
        self.last_progress = None
        self.last_psnr: float | None = None
        self.start_psnr: float | None = None  # validation of the starting weights (step 0)
        self.trained_psnr: float | None = None  # best validation after step 0

        self.data_dir = QLineEdit()
        self.data_dir.setPlaceholderText("folder with your photos (searched recursively)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(self.data_dir, "Photo folder"))
        self.out_dir = QLineEdit(str(user_data_dir() / "runs" / time.strftime("finetune-%Y%m%d-%H%M%S")))
        browse_out = QPushButton("Browse…")
        browse_out.clicked.connect(lambda: self._browse(self.out_dir, "Output folder"))
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setValue(default_of(TrainOptions, "steps"))
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 128)
        self.batch_size.setValue(default_of(TrainOptions, "batch_size"))
        self.size = QSpinBox()
        self.size.setRange(32, 1024)
        self.size.setSingleStep(32)
        self.size.setValue(default_of(TrainOptions, "size"))
        self.size.setSuffix(" px")
        self.device = device_combo(self.settings.device)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.data_dir, 1)
        row.addWidget(browse)
        form.addRow("Photos:", row)
        row = QHBoxLayout()
        row.addWidget(self.out_dir, 1)
        row.addWidget(browse_out)
        form.addRow("Save run to:", row)
        numbers = QHBoxLayout()
        for label, widget in (("Steps:", self.steps), ("Batch:", self.batch_size), ("Crop:", self.size)):
            numbers.addWidget(QLabel(label))
            numbers.addWidget(widget)
        numbers.addStretch(1)
        form.addRow(numbers)
        form.addRow("Device:", self.device)
        recipe = QLabel(recipe_text())
        recipe.setStyleSheet("color: #666;")
        recipe.setWordWrap(True)
        form.addRow("Recipe:", recipe)

        self.progress.setFormat("%v / %m steps")
        self.status.setText("Choose a folder of photos and press Start.")
        self.plot = LossPlot()
        self.preview = ClickableLabel("the latest preview sheet appears here\n(input | mask | coarse | refined | truth)")
        self.preview.clicked.connect(self.open_preview)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(300, 200)
        self.preview.setStyleSheet("color: #888; background: #f4f4f6;")
        self._preview_pixmap: QPixmap | None = None
        self.preview_path: Path | None = None
        self.preview_window: SheetWindow | None = None
        self.skipped = QListWidget()
        self.skipped.setMaximumHeight(70)
        self.skipped.hide()

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.preview)
        splitter.setSizes([420, 420])

        self.cancel_button.setToolTip("Stop after the current step and keep what was learnt")
        self.locked_while_running += [self.data_dir, self.out_dir, self.steps, self.batch_size, self.size,
                                      self.device]

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.skipped)
        layout.addLayout(self.buttons)
        self.resize(980, 640)

    def _browse(self, edit: QLineEdit, caption: str) -> None:
        folder = messages.get_folder(self, caption, edit.text())
        if folder:
            edit.setText(folder)

    def options(self) -> TrainOptions:
        return TrainOptions(data_dir=Path(self.data_dir.text().strip()), out_dir=Path(self.out_dir.text().strip()),
                            steps=self.steps.value(), batch_size=self.batch_size.value(), size=self.size.value(),
                            device=self.device.currentData(), init=Path(self.settings.weights)
                            if self.settings.weights else None)

    def prepare(self) -> Job | None:
        if not self.data_dir.text().strip() or not Path(self.data_dir.text().strip()).is_dir():
            messages.message(self, messages.ERROR, "No photo folder",
                             f"Choose an existing folder of photos ({self.data_dir.text() or 'none given'}).")
            return None
        opts = self.options()
        self.result = None
        self.last_psnr = self.start_psnr = self.trained_psnr = None
        self.plot.clear(opts.steps)
        self.progress.setRange(0, opts.steps)
        self.progress.setValue(0)
        self.status.setText("Preparing (reading photos, first validation)…")
        self.skipped.clear()
        self.skipped.hide()

        def job(report, should_stop):
            from model.training.trainer import train  # looked up when it runs: tests put a stand-in there
            result = train(opts, progress=report, should_stop=should_stop)
            result.app_path = None  # best.pt at the starting weights' settings, when it can be written
            if result.best_path is not None:
                try:
                    result.app_path = weights_for_app(Path(result.best_path), opts.init)
                except (OSError, ValueError, KeyError):
                    pass
            return result

        return job

    def on_progress(self, info) -> None:
        self.last_progress = info
        self.progress.setMaximum(info.total)
        self.progress.setValue(info.step)
        self.plot.total_steps = max(1, info.total)
        if info.losses:
            self.plot.add(info.step, info.losses)
        text = f"step {info.step} / {info.total}"
        if info.steps_per_s:
            text += f" · {info.steps_per_s:.2f} steps/s · about {_format_eta(info.eta_s)} left"
        if "total" in info.losses:
            text += f" · loss {info.losses['total']:.4f}"
        if info.val_psnr is not None:
            self.last_psnr = info.val_psnr
            if info.step == 0 and self.start_psnr is None:
                self.start_psnr = info.val_psnr
            elif info.step > 0:
                self.trained_psnr = max(self.trained_psnr or -math.inf, info.val_psnr)
        if self.last_psnr is not None:
            text += f" · validation PSNR {self.last_psnr:.2f} dB"
            if self.start_psnr is not None and info.step > 0:
                text += f" ({self.last_psnr - self.start_psnr:+.2f} dB vs the start)"
        if self.is_cancelling():
            text += " · stopping…"
        self.status.setText(text)
        if info.preview_path is not None:
            self._show_preview(Path(info.preview_path))

    def _show_preview(self, path: Path) -> None:
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            return
        self.preview_path = path
        self._preview_pixmap = pixmap
        self._fit_preview()
        self.preview.setToolTip(f"{path.name}: click to open it full size")
        self.preview.setCursor(Qt.CursorShape.PointingHandCursor)
        if self.preview_window is not None and self.preview_window.isVisible():
            self.preview_window.show_sheet(path)

    def open_preview(self) -> None:
        """The preview sheet in its own window, at full size (pan by dragging, zoom with the wheel)."""
        if self.preview_path is None:
            return
        if self.preview_window is None:
            self.preview_window = SheetWindow(self)
        self.preview_window.show_sheet(self.preview_path)
        self.preview_window.show()
        self.preview_window.raise_()

    def _fit_preview(self) -> None:
        if self._preview_pixmap is not None:
            self.preview.setPixmap(self._preview_pixmap.scaled(
                self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_preview()

    def gain_db(self) -> float | None:
        """Best validation PSNR after training minus that of the starting weights."""
        if self.start_psnr is None or self.trained_psnr is None:
            return None
        return self.trained_psnr - self.start_psnr

    def on_finished(self, result) -> None:
        self.result = result
        for path, why in result.skipped:
            self.skipped.addItem(f"skipped {why}" if str(path) in why else f"skipped {path}: {why}")
        self.skipped.setVisible(self.skipped.count() > 0)
        how = "Stopped" if result.stopped else "Finished"
        gain = self.gain_db()
        if gain is None:
            verdict = "no validation after the start"
        else:
            verdict = (f"validation PSNR {self.start_psnr:.2f} → {self.trained_psnr:.2f} dB "
                       f"({gain:+.2f} dB)")
        weights = result.app_path or result.best_path
        improved = weights is not None and gain is not None and gain >= MIN_GAIN_DB
        self.status.setText(f"{how} after {result.steps_done} steps; {verdict}"
                            + (f"; best weights: {weights}" if improved else ""))
        if improved:
            answer = messages.message(self, messages.QUESTION, "Use the new weights?",
                                      f"{how} after {result.steps_done} steps.\n\n"
                                      f"Validation improved by {gain:.2f} dB over the starting weights "
                                      f"({self.start_psnr:.2f} → {self.trained_psnr:.2f} dB PSNR on "
                                      f"held-out photos).\n\n"
                                      f"Switch the app to the fine-tuned weights?\n{weights}",
                                      Button.Yes | Button.No, Button.Yes)
            if answer == Button.Yes:
                self.weights_ready.emit(str(weights))
        else:
            messages.message(self, messages.INFO, "Weights unchanged",
                             f"{how} after {result.steps_done} steps.\n\n"
                             + (f"Validation did not improve over the starting weights ({verdict})"
                                if gain is not None else "There was no validation after the start")
                             + ", so the app keeps the weights it uses.\n\n"
                             "More steps or more photos may help; the run is saved in\n"
                             f"{result.last_path.parent}")

    # stopping saves what was learnt (the user was told so): that may take its time
    close_wait_ms = 60000

    def confirm_stop(self) -> bool:
        answer = messages.message(self, messages.QUESTION, "Stop fine-tuning?",
                                  "Training is running. Stop it (what was learnt so far is saved)?",
                                  Button.Yes | Button.No, Button.No)
        return answer == Button.Yes
