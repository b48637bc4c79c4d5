"""The main window: editor canvas, tool dock, result view, status bar; its
actions, menus and toolbar are built in actions.py.

What it shows comes from two parts it owns: the ``PhotoDocument``
(document.py: the photo, its versions, open and save) and the
``RemovalController`` (removal.py: the model's jobs on worker threads).
The window wires them to the widgets and asks the user when needed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QStackedWidget, QToolButton

from model.photos.files import IMAGE_SUFFIXES
from model.photos.imageio import ImageReadError
from model.photos.files import is_image_file
from model.photos.imageio import read_mask
from model.photos.imageio import write_mask
from model.selection import is_scribble

from . import messages
from .accept_command import AcceptCommand
from .actions import make_actions, make_menus, make_toolbar
from .canvas import Canvas, Tool
from .document import IMAGE_FILTER, PhotoDocument
from .icons import icon
from .mask_model import Box, MaskModel
from .navigator import Navigator
from .removal import (STEP_NAMES, Removal, RemovalController, is_device_unavailable, is_out_of_memory,
                      progress_text)
from .result_view import ResultView
from .settings import Settings
from .tool_dock import ToolDock

Button = messages.Button
PAGE_WELCOME, PAGE_EDIT, PAGE_RESULT = 0, 1, 2


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, load_model: bool = True):
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("Inpaint — object removal")
        self.setWindowIcon(icon("remove"))
        self.setAcceptDrops(True)

        self.document = PhotoDocument()
        self.removal = RemovalController(self.settings, self)
        self.result = None  # the last FillResult shown
        self.batch_dialog = self.finetune_dialog = None  # the last one opened of each (they run on their own)
        self._dock_hidden_for_result = False

        self.mask_model = MaskModel(self)
        self.canvas = Canvas(self.mask_model)
        self.canvas.set_brush_size(self.settings.brush_size)
        self.canvas.mask_item.set_opacity(self.settings.mask_opacity)
        self.result_view = ResultView()
        self.welcome = QLabel("Open a photo to start\n\nFile ▸ Open (Ctrl+O), or drop a photo here")
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setStyleSheet("color: #888; font-size: 16px; background: #303034;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.canvas)
        self.stack.addWidget(self.result_view)
        self.setCentralWidget(self.stack)

        self.acts = make_actions(self)
        menus = make_menus(self, self.acts)
        self.recent_menu, self.view_menu = menus.recent, menus.view
        self.toolbar = make_toolbar(self.acts)
        self.addToolBar(self.toolbar)
        self._make_dock()
        self._make_status_bar()
        self._connect()
        self._update_actions()
        self.resize(1280, 820)
        if load_model:
            QTimer.singleShot(0, self.load_model)

    # ================================================================ set-up
    def _make_dock(self) -> None:
        self.dock = ToolDock(self, self.tool_actions(), grow=self.acts.grow, shrink=self.acts.shrink,
                             clear=self.acts.clear, invert=self.acts.invert, remove=self.acts.remove,
                             mask_opacity=self.settings.mask_opacity,
                             navigator=Navigator(self.canvas, self.mask_model))
        self.navigator = self.dock.navigator
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.dock.toggleViewAction())

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setMaximumWidth(200)
        self.busy.setTextVisible(True)
        self.busy.setMaximumHeight(16)
        self.busy_cancel = QToolButton()
        self.busy_cancel.setDefaultAction(self.acts.cancel)
        self.busy_cancel.setAutoRaise(True)
        self.busy.hide()
        self.busy_cancel.hide()
        self.status_pos = QLabel()
        self.status_zoom = QLabel()
        self.status_model = QLabel("loading model…")
        self.status_model.setToolTip("Device and model weights in use (Edit ▸ Settings)")
        sb.addPermanentWidget(self.busy)
        sb.addPermanentWidget(self.busy_cancel)
        sb.addPermanentWidget(self.status_pos)
        sb.addPermanentWidget(self.status_zoom)
        sb.addPermanentWidget(self.status_model)

    def _connect(self) -> None:
        c = self.canvas
        self.dock.brush_size_picked.connect(c.set_brush_size)
        c.brush_size_changed.connect(self.dock.show_brush_size)
        self.dock.show_brush_size(c.brush_size)
        self.dock.opacity_slider.valueChanged.connect(self._set_opacity)
        # the label shows the active view's zoom, read from it (not the zoom a hidden view last reported)
        c.zoom_changed.connect(self._show_zoom)
        self.stack.currentChanged.connect(self._show_zoom)
        c.cursor_moved.connect(self._show_position)
        c.files_dropped.connect(self._open_dropped)
        c.selection_drawn.connect(self.select_object)
        self.mask_model.stack.indexChanged.connect(self._on_mask_changed)
        self.mask_model.changed.connect(self._on_mask_changed)
        self.result_view.accept_requested.connect(self.accept_result)
        self.result_view.back_requested.connect(self.back_to_edit)
        r = self.removal
        r.model_loading.connect(lambda: self.status_model.setText("loading model…"))
        r.model_loaded.connect(self._model_loaded)
        r.model_failed.connect(self._model_failed)
        r.removed.connect(self.show_removal)
        r.removal_failed.connect(self._remove_failed)
        r.removal_cancelled.connect(lambda: self.statusBar().showMessage("Removal cancelled", 4000))
        r.removal_progress.connect(self._show_removal_progress)
        r.selected.connect(self._selected)
        r.selection_failed.connect(lambda exc: self.error("Select object failed", str(exc)))
        r.jobs_changed.connect(self._update_actions)
        for v in self.result_view.views:
            v.zoom_changed.connect(self._show_zoom)
            v.view_changed.connect(self._show_zoom)  # a pane that follows another's zoom says nothing itself

    # ================================================================ helpers
    def _view(self):
        if self.stack.currentIndex() == PAGE_RESULT:
            return self.result_view.panels["refined"].view
        return self.canvas

    def _show_zoom(self, *_) -> None:
        page = self.stack.currentIndex()
        self.status_zoom.setText(f"{self._view().zoom() * 100:.0f} %" if page != PAGE_WELCOME else "")

    def _set_opacity(self, value: int) -> None:
        self.canvas.mask_item.set_opacity(value / 100)
        self.settings.mask_opacity = value / 100

    def _show_position(self, x: int, y: int) -> None:
        self.status_pos.setText(f"{x}, {y}" if x >= 0 else "")

    def _on_mask_changed(self, *_) -> None:
        try:
            self._update_actions()
        except RuntimeError:  # the undo stack is gone while the window shuts down
            pass

    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        self.acts.tool(tool).setChecked(True)

    def tool_actions(self) -> tuple:
        return self.acts.tools()

    def is_busy(self) -> bool:
        return self.removal.is_busy()

    def _update_actions(self) -> None:
        has_image = self.image is not None
        page = self.stack.currentIndex()
        busy = self.is_busy() or self.removal.pending_remove
        editing = has_image and page == PAGE_EDIT and not busy
        # (asked only while editing, as before the split: the mask scan costs a pass over the photo)
        stack = self.mask_model.stack
        self.acts.update_enabled(has_image=has_image, editing=editing, busy=busy, on_result=page == PAGE_RESULT,
                                 can_undo=editing and stack.canUndo(), can_redo=editing and stack.canRedo(),
                                 has_mask=editing and not self.mask_model.is_empty(),
                                 at_original=self.document.at_original,
                                 has_coarse=self.result is not None and self.result.stage("coarse") is not None)
        self.dock.remove_button.setEnabled(self.acts.remove.isEnabled())
        self.canvas.editing_enabled = editing
        # the tool dock means nothing on the result page: give the three views its room
        if page == PAGE_RESULT and self.dock.isVisible():
            self._dock_hidden_for_result = True
            self.dock.hide()
        elif page != PAGE_RESULT and self._dock_hidden_for_result:
            self._dock_hidden_for_result = False
            self.dock.show()
        self.busy.setVisible(busy)
        self.busy_cancel.setVisible(busy)

    # the document's and the model's state, by the names scripts and tests use
    @property
    def image(self) -> np.ndarray | None:
        return self.document.image

    @image.setter
    def image(self, value: np.ndarray | None) -> None:
        self.document.image = value

    @property
    def original(self) -> np.ndarray | None:
        return self.document.original

    @original.setter
    def original(self, value: np.ndarray | None) -> None:
        self.document.original = value

    @property
    def path(self) -> Path | None:
        return self.document.path

    @property
    def save_path(self) -> Path | None:
        return self.document.save_path

    @property
    def modified(self) -> bool:
        """True while the photo shown is not the one last saved (or opened)."""
        return self.document.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        self.document.modified = value

    @property
    def inpainter(self):
        return self.removal.inpainter

    @inpainter.setter
    def inpainter(self, value) -> None:
        self.removal.inpainter = value

    @property
    def model_error(self) -> str | None:
        return self.removal.model_error

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.display_name()}{' *' if self.modified else ''} — Inpaint")

    def error(self, title: str, text: str) -> None:
        messages.message(self, messages.ERROR, title, text)

    # ================================================================= model
    def load_model(self, device: str | None = None, then_remove: bool = False) -> None:
        """Load the filler of Settings on a worker thread; Remove waits for it."""
        self.removal.load_model(device, then_remove)

    def _model_loaded(self, inpainter) -> None:
        if inpainter.weights_path is None:  # a classical fill: no model, no device
            from model.fill import FILLERS
            label = FILLERS[inpainter.name].label if inpainter.name in FILLERS else inpainter.name
            self.status_model.setText(label)
            self.status_model.setToolTip(f"Fill method: {label}")
        else:
            from model.devices import describe  # here: it imports torch, which the model has loaded by now
            weights = Path(inpainter.weights_path)
            self.status_model.setText(f"{describe(inpainter.device)} · {weights.name}")
            self.status_model.setToolTip(f"Device: {describe(inpainter.device)}\nWeights: {weights}")
        if self.removal.take_pending_remove():
            QTimer.singleShot(0, self.remove)

    def _model_failed(self, exc: BaseException) -> None:
        self.status_model.setText("no model")
        if isinstance(exc, FileNotFoundError):
            self.error("Model weights missing",
                       f"The model could not be loaded:\n{exc}\n\n"
                       "Choose a weights file in Edit ▸ Settings.")
        elif is_device_unavailable(exc):
            answer = messages.message(self, messages.QUESTION, "Device not available",
                                      f"{exc}.\n\nUse the CPU instead?", Button.Yes | Button.No, Button.Yes)
            if answer == Button.Yes:
                self.removal.device_override = "cpu"
                QTimer.singleShot(0, self.load_model)
        else:
            self.error("Model could not be loaded", f"The model could not be loaded:\n{exc}")

    # ============================================================ open / save
    def _confirm_discard(self) -> bool:
        """True if it is fine to drop the current photo (saved, or the user agrees)."""
        if not self.modified:
            return True
        answer = messages.message(
            self, messages.QUESTION, "Unsaved changes",
            f"{self.path.name if self.path else 'The photo'} has removals that are not saved.\nSave them first?",
            Button.Save | Button.Discard | Button.Cancel, Button.Save)
        if answer == Button.Save:
            return self.save()
        return answer == Button.Discard

    def open_dialog(self) -> None:
        start = str(self.path.parent) if self.path else ""
        path = messages.get_open_path(self, "Open photo", start, IMAGE_FILTER)
        if path:
            self.open_photo(path)

    def _open_dropped(self, paths: list[str]) -> None:
        images = [p for p in paths if is_image_file(p)]
        if not images:
            self.error("Not a photo", f"{paths[0]}: not a supported image "
                       f"({', '.join(s.lstrip('.') for s in IMAGE_SUFFIXES)})")
            return
        self.open_photo(images[0])

    def open_photo(self, path: str | Path) -> bool:
        if self.is_busy() or not self._confirm_discard():
            return False
        path = Path(path)
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            image = self.document.open(path)
        except ImageReadError as exc:
            QGuiApplication.restoreOverrideCursor()
            self.error("Cannot open photo", str(exc))
            return False
        QGuiApplication.restoreOverrideCursor()
        self.result = None
        self.mask_model.set_blank(*image.shape[:2])
        self.canvas.set_image(image)
        self.stack.setCurrentIndex(PAGE_EDIT)
        self.canvas.fit()
        self.canvas.setFocus()
        self.settings.add_recent(str(path.resolve()))
        h, w = image.shape[:2]
        self.statusBar().showMessage(f"Opened {path.name} ({w} × {h})", 5000)
        self._update_title()
        self._update_actions()
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for f in files:
            self.recent_menu.addAction(f, lambda f=f: self.open_photo(f))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent)
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def save(self) -> bool:
        """Save to the last Save As target; the first time, ask where (never
        straight over the original)."""
        if self.image is None:
            return False
        if self.save_path is None:
            return self.save_as()
        return self._write(self.save_path)

    def save_as(self) -> bool:
        if self.image is None:
            return False
        default = self.document.default_save_path(self.settings.format_policy)
        target = messages.get_save_path(self, "Save cleaned photo", str(default), IMAGE_FILTER)
        if not target:
            return False
        target = Path(target)
        if not target.suffix:
            target = target.with_suffix(default.suffix)
        if target.resolve() == self.path.resolve():
            answer = messages.message(self, messages.WARNING, "Overwrite the original?",
                                      f"{target} is the original photo.\nReplace it with the cleaned version? "
                                      "The original cannot be recovered.", Button.Yes | Button.No, Button.No)
            if answer != Button.Yes:
                return False
        return self._write(target)

    def _write(self, target: Path) -> bool:
        try:
            self.document.write(target)
        except (OSError, ValueError) as exc:
            self.error("Cannot save", f"{target}: {exc}")
            return False
        self.statusBar().showMessage(f"Saved {target}", 5000)
        self._update_title()
        return True

    def export_mask(self) -> None:
        if self.image is None:
            return
        default = self.path.with_name(f"{self.path.stem}_mask.png")
        target = messages.get_save_path(self, "Export mask", str(default), "PNG (*.png)")
        if not target:
            return
        try:
            write_mask(target, self.mask_model.hole())
        except (OSError, ValueError) as exc:
            self.error("Cannot export mask", f"{target}: {exc}")
            return
        self.statusBar().showMessage(f"Mask written to {target}", 5000)

    def import_mask(self, path: str | Path | None = None) -> bool:
        if self.image is None:
            return False
        if not isinstance(path, (str, Path)) or not str(path):
            path = messages.get_open_path(self, "Import mask", str(self.path.parent), IMAGE_FILTER)
            if not path:
                return False
        try:
            hole = read_mask(path)
        except ImageReadError as exc:
            self.error("Cannot import mask", str(exc))
            return False
        h, w = self.image.shape[:2]
        if hole.shape != (h, w):
            self.error("Mask size does not match",
                       f"{path}: the mask is {hole.shape[1]} × {hole.shape[0]} pixels, "
                       f"but the photo is {w} × {h}.")
            return False
        self.mask_model.apply(hole, "Import mask")
        return True

    def revert(self) -> None:
        if self.original is None or self.document.at_original:
            return
        answer = messages.message(self, messages.QUESTION, "Revert to original",
                                  "Drop all accepted removals and go back to the original photo?",
                                  Button.Yes | Button.No, Button.No)
        if answer != Button.Yes:
            return
        # a fresh start, as asked: the history (accepts and strokes) goes too
        image = self.document.revert()
        self.mask_model.set_blank(*image.shape[:2])
        self.canvas.set_image(image, fit=False)
        self.stack.setCurrentIndex(PAGE_EDIT)
        self._update_title()
        self._update_actions()

    def _write_photo(self, box: Box, pixels: np.ndarray, version: int) -> None:
        """Put ``pixels`` into ``box`` of the working photo (AcceptCommand's redo and undo)."""
        self.canvas.set_image(self.document.write_pixels(box, pixels, version), fit=False)
        self._update_title()
        self._update_actions()

    # ====================================================== select object
    def select_object(self, points: list, value: int = 1) -> None:
        """Snap a dragged box (or a scribble) to the object under it
        (model.selection, on a worker) and add it to the mask, or take it out
        (``value`` 0), as one undoable step."""
        if self.image is None or self.is_busy() or len(points) < 2:
            return
        pts = np.asarray(points, np.float64)
        scribble = is_scribble(pts)
        if not scribble:
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            if abs(x1 - x0) < 4 or abs(y1 - y0) < 4:
                self.statusBar().showMessage("Select object: drag a box around the object, or scribble over it",
                                             5000)
                return
        self.busy.setRange(0, 0)
        self.removal.select(self.image, pts, scribble, max(3.0, self.canvas.brush_size / 4), value)
        self.statusBar().showMessage("Finding the object's outline…")

    def _selected(self, selection: np.ndarray, value: int) -> None:
        if not selection.any():
            self.statusBar().showMessage("No object found there: drag a box around the whole object", 5000)
            return
        mask = self.mask_model.mask.astype(bool)
        new = mask | selection if value else mask & ~selection
        self.mask_model.apply(new, "Select object" if value else "Deselect object")
        self.statusBar().showMessage("Object selected: refine with the brush or eraser, then Remove (Enter)"
                                     if value else "Object taken out of the mask", 5000)

    # ================================================================ remove
    def remove(self) -> None:
        """Start removing the masked region on a worker thread (after the
        model, if it is still loading)."""
        if self.image is None or self.is_busy() or self.stack.currentIndex() != PAGE_EDIT:
            return
        if self.mask_model.is_empty():
            self.statusBar().showMessage("Paint over the object to remove first", 4000)
            return
        waits = self.inpainter is None
        self.busy.setRange(0, 0)  # busy, until the model reports its steps
        self.removal.remove(self.image, self.mask_model.hole())
        self.statusBar().showMessage("Waiting for the model…" if waits else "Removing…")

    def _show_removal_progress(self, step: str, fraction: float, elapsed: float) -> None:
        self.busy.setRange(0, 100)
        self.busy.setValue(int(round(fraction * 100)))
        self.busy.setFormat(f"{STEP_NAMES.get(step, step)} %p %")
        if not self.removal.is_cancelling():
            self.statusBar().showMessage(progress_text(step, fraction, elapsed))

    def cancel_remove(self) -> None:
        r = self.removal
        if r.is_selecting():
            self.statusBar().showMessage("Selection cancelled", 4000)
        if r.is_removing():
            self.statusBar().showMessage("Cancelling…")
        elif r.pending_remove:
            self.statusBar().showMessage("Removal cancelled", 4000)
        r.cancel()

    def show_removal(self, removal: Removal) -> None:
        """Show a finished removal on the result page, to compare and accept."""
        self.result = removal.result
        title = "refined" if removal.result.stage("coarse") is not None else "result"
        self.result_view.set_result(removal.image, removal.result.stage("coarse"), removal.result.image, removal.hole,
                                    title)
        self.stack.setCurrentIndex(PAGE_RESULT)
        self.result_view.setFocus()
        self.statusBar().showMessage("Done: compare, then accept the result (Enter) or go back (Esc)", 6000)
        self._update_actions()

    def _remove_failed(self, exc: BaseException) -> None:
        self.statusBar().clearMessage()
        if is_out_of_memory(exc) and getattr(getattr(self.inpainter, "device", None), "type", "cpu") != "cpu":
            answer = messages.message(
                self, messages.QUESTION, "Out of GPU memory",
                f"The GPU ({self.inpainter.device}) ran out of memory while removing.\n\n"
                "Run on the CPU instead? (slower; your mask is kept)", Button.Yes | Button.No, Button.Yes)
            if answer == Button.Yes:
                self.removal.device_override = "cpu"
                QTimer.singleShot(0, lambda: self.load_model("cpu", then_remove=True))
            return
        if isinstance(exc, ValueError):
            self.error("Cannot remove", str(exc))
        else:
            self.error("Removal failed", f"The removal failed: {exc}\n\nYour photo and mask are unchanged.")

    def accept_result(self, which: str = "refined") -> None:
        if self.result is None or self.stack.currentIndex() != PAGE_RESULT:
            return
        result = self.result.image if which == "refined" else self.result.stage("coarse")
        if result is None:  # "coarse" for a fill without that stage
            return
        self.result = None
        self.stack.setCurrentIndex(PAGE_EDIT)
        # an undoable step on the mask's history: Ctrl+Z brings back the photo and the mask
        self.mask_model.stack.push(AcceptCommand(self.mask_model, self._write_photo, self.image,
                                                 self.document.version, result, f"Accept {which} result"))
        self.canvas.setFocus()
        self.statusBar().showMessage(f"Accepted the {which} result; paint the next object (Ctrl+Z undoes)", 5000)

    def back_to_edit(self) -> None:
        if self.stack.currentIndex() == PAGE_RESULT:
            self.stack.setCurrentIndex(PAGE_EDIT)
            self.canvas.setFocus()
            self._update_actions()

    # ================================================================ dialogs
    def open_settings(self) -> None:
        from .dialogs.settings import SettingsDialog
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() and dialog.apply():
            self.removal.device_override = None
            self.canvas.set_brush_size(self.settings.brush_size)
            self.load_model()
        elif dialog.result():
            self.canvas.set_brush_size(self.settings.brush_size)

    def open_batch(self) -> None:
        from .dialogs.batch import BatchDialog
        hole = None if self.image is None or self.mask_model.is_empty() else self.mask_model.hole()
        dialog = BatchDialog(self, lambda: self.inpainter, hole, self.settings)
        dialog.open_requested.connect(self.open_for_fix)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.batch_dialog = dialog

    def open_for_fix(self, output: str, original: str = "") -> bool:
        """Open a batch result (from the review list) to fix it by hand; Save
        (Ctrl+S) then replaces that result, never the original photo."""
        output_path = Path(output)
        if self.path is not None and self.path.resolve() == output_path.resolve():
            self.raise_()
            return True
        if not self.open_photo(output_path):
            return False
        self.document.save_path = output_path
        self.raise_()
        self.activateWindow()
        self.statusBar().showMessage(f"Batch result {output_path.name}: paint what to fix, Remove, then Save "
                                     f"(Ctrl+S) replaces this result" + (f" (original: {original})" if original
                                                                           else ""), 10000)
        return True

    def open_finetune(self) -> None:
        from .dialogs.finetune import FinetuneDialog
        dialog = FinetuneDialog(self, self.settings)
        dialog.weights_ready.connect(self.use_weights)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.finetune_dialog = dialog

    def use_weights(self, path: str) -> None:
        self.settings.weights = path
        self.load_model()

    # ================================================================ events
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self._open_dropped(paths)

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self._confirm_discard():
            event.ignore()
            return
        # a running batch or training must stop (and save) before the app goes
        for dialog in (self.batch_dialog, self.finetune_dialog):
            if dialog is not None and shiboken6.isValid(dialog) and dialog.isVisible() and not dialog.close():
                event.ignore()
                return
        self.removal.shutdown()
        self.settings.brush_size = self.canvas.brush_size
        event.accept()
