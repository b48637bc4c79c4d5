"""The main window's commands: its QActions (with shortcuts, icons and
tips), the menu bar and the toolbar that show them.

``make_actions`` creates the actions and connects them to the window's
slots; the window decides when each is enabled (``_update_actions``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QWidget

from .canvas import Tool
from .icons import icon

if TYPE_CHECKING:
    from .main_window import MainWindow


@dataclass
class Actions:
    open: QAction
    save: QAction
    save_as: QAction
    export_mask: QAction
    import_mask: QAction
    revert: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    clear: QAction
    invert: QAction
    grow: QAction
    shrink: QAction
    brush: QAction
    eraser: QAction
    rect: QAction
    lasso: QAction
    select: QAction
    zoom_in: QAction
    zoom_out: QAction
    fit: QAction
    zoom_100: QAction
    remove: QAction
    cancel: QAction
    accept: QAction
    accept_coarse: QAction
    back: QAction
    batch: QAction
    train: QAction
    settings: QAction
    tool_group: QActionGroup  # the tools are exclusive

    def tools(self) -> tuple[QAction, ...]:
        return (self.brush, self.eraser, self.rect, self.lasso, self.select)

    def zoom(self) -> tuple[QAction, ...]:
        return (self.zoom_in, self.zoom_out, self.fit, self.zoom_100)

    def update_enabled(self, *, has_image: bool, editing: bool, busy: bool, on_result: bool, can_undo: bool,
                       can_redo: bool, has_mask: bool, at_original: bool, has_coarse: bool = True) -> None:
        """Enable what makes sense now: mask edits only while editing (a photo
        on the edit page, no job running), accepting only on the result page
        (the coarse result only when the fill has one), opening and saving
        only while nothing runs."""
        for a in (self.clear, self.invert, self.grow, self.shrink, self.import_mask, *self.tools()):
            a.setEnabled(editing)
        self.undo.setEnabled(editing and can_undo)
        self.redo.setEnabled(editing and can_redo)
        self.remove.setEnabled(editing and has_mask)
        self.cancel.setEnabled(busy)
        for a in (self.accept, self.back):
            a.setEnabled(on_result)
        self.accept_coarse.setEnabled(on_result and has_coarse)
        self.open.setEnabled(not busy)
        for a in (self.save, self.save_as, self.export_mask):
            a.setEnabled(has_image and not busy)
        self.revert.setEnabled(has_image and not busy and not at_original)
        for a in self.zoom():
            a.setEnabled(has_image)

    def tool(self, tool: Tool) -> QAction:
        """The action that picks ``tool``."""
        return {Tool.BRUSH: self.brush, Tool.ERASER: self.eraser, Tool.RECT: self.rect,
                Tool.LASSO: self.lasso, Tool.SELECT: self.select}[tool]


def _action(window: QWidget, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "",
            checkable: bool = False) -> QAction:
    action = QAction(text, window)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut is not None:
        if isinstance(shortcut, (list, tuple)):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    tip = tip or text.replace("&", "").rstrip("…")
    if action.shortcut().toString():
        tip += f" ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    if slot is not None:
        action.triggered.connect(slot)
    window.addAction(action)  # shortcuts work whatever has focus
    return action


def make_actions(w: MainWindow) -> Actions:
    """The window's actions, connected to its slots (looked up when triggered
    where the slot needs the dock or the current view, built later)."""
    def A(*args, **kw) -> QAction:
        return _action(w, *args, **kw)

    def history(undo: bool) -> QAction:
        """Undo / Redo of the mask's history (the QUndoStack names and enables them)."""
        stack = w.mask_model.stack
        if undo:
            action = stack.createUndoAction(w, "&Undo")
            action.setShortcut(QKeySequence.StandardKey.Undo)
        else:
            action = stack.createRedoAction(w, "&Redo")
            action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        action.setIcon(icon("undo" if undo else "redo"))
        w.addAction(action)
        return action

    # (created and added to the window in menu order, as keyword arguments are evaluated in order)
    acts = Actions(
        open=A("&Open…", w.open_dialog, QKeySequence.StandardKey.Open, "open", "Open a photo"),
        save=A("&Save", w.save, QKeySequence.StandardKey.Save, "save", "Save the cleaned photo"),
        save_as=A("Save &As…", w.save_as, QKeySequence("Ctrl+Shift+S")),
        export_mask=A("&Export Mask…", w.export_mask),
        # (a lambda: QAction.triggered passes `checked`, which must not become the path)
        import_mask=A("&Import Mask…", lambda: w.import_mask()),
        revert=A("&Revert to Original", w.revert),
        quit=A("&Quit", w.close, QKeySequence.StandardKey.Quit),
        undo=history(True), redo=history(False),
        clear=A("&Clear Mask", lambda: w.mask_model.clear(), QKeySequence("Ctrl+Shift+X"), "mask_clear"),
        invert=A("&Invert Mask", lambda: w.mask_model.invert(), QKeySequence("Ctrl+I"), "mask_invert"),
        grow=A("&Grow Mask", lambda: w.mask_model.grow(w.dock.grow_spin.value()), QKeySequence("Ctrl+]")),
        shrink=A("S&hrink Mask", lambda: w.mask_model.grow(-w.dock.grow_spin.value()), QKeySequence("Ctrl+[")),
        brush=A("&Brush", lambda: w.set_tool(Tool.BRUSH), "B", "brush",
                "Brush: paint what to remove (right button erases)", True),
        eraser=A("&Eraser", lambda: w.set_tool(Tool.ERASER), "E", "eraser", "Eraser", True),
        rect=A("&Rectangle", lambda: w.set_tool(Tool.RECT), "R", "rect", "Rectangle fill (right button: erase)",
               True),
        lasso=A("&Lasso", lambda: w.set_tool(Tool.LASSO), "L", "lasso", "Lasso fill (right button: erase)", True),
        select=A("Select &Object", lambda: w.set_tool(Tool.SELECT), "O", "select",
                 "Select object: drag a box around it, or scribble over it; the mask snaps to its "
                 "outline (right button: take it out of the mask)", True),
        zoom_in=A("Zoom &In", lambda: w._view().zoom_in(), ["Ctrl++", "Ctrl+="], "zoom_in"),
        zoom_out=A("Zoom &Out", lambda: w._view().zoom_out(), "Ctrl+-", "zoom_out"),
        fit=A("&Fit to Window", lambda: w._view().fit(), "Ctrl+0", "zoom_fit"),
        zoom_100=A("&Actual Size (100 %)", lambda: w._view().actual_size(), "Ctrl+1", "zoom_100"),
        remove=A("&Remove", w.remove, ["Return", "Enter"], "remove", "Remove the masked object"),
        cancel=A("&Cancel", w.cancel_remove, None, "cancel", "Cancel the removal"),
        accept=A("Accept &Refined", lambda: w.accept_result("refined"), ["Return", "Enter"]),
        accept_coarse=A("Accept &Coarse", lambda: w.accept_result("coarse")),
        back=A("&Back to Mask", w.back_to_edit, "Escape"),
        batch=A("&Batch…", w.open_batch, None, "batch", "Remove the same region from a folder"),
        train=A("&Fine-tune Model…", w.open_finetune, None, "train", "Fine-tune the model on your photos"),
        settings=A("&Settings…", w.open_settings, QKeySequence.StandardKey.Preferences, "settings"),
        tool_group=QActionGroup(w),
    )
    for a in acts.tools():
        acts.tool_group.addAction(a)
    acts.brush.setChecked(True)
    return acts


@dataclass
class Menus:
    recent: QMenu  # File ▸ Open Recent, filled each time it opens
    view: QMenu  # the dock adds its toggle here


def make_menus(w: MainWindow, acts: Actions) -> Menus:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    file.addAction(acts.open)
    recent = file.addMenu("Open &Recent")
    recent.aboutToShow.connect(w._fill_recent_menu)
    file.addSeparator()
    for a in (acts.save, acts.save_as, acts.revert):
        file.addAction(a)
    file.addSeparator()
    file.addAction(acts.import_mask)
    file.addAction(acts.export_mask)
    file.addSeparator()
    file.addAction(acts.quit)

    edit = bar.addMenu("&Edit")
    for a in (acts.undo, acts.redo):
        edit.addAction(a)
    edit.addSeparator()
    for a in (acts.clear, acts.invert, acts.grow, acts.shrink):
        edit.addAction(a)
    edit.addSeparator()
    edit.addAction(acts.settings)

    tools = bar.addMenu("&Tools")
    for a in acts.tools():
        tools.addAction(a)
    tools.addSeparator()
    for a in (acts.remove, acts.cancel, acts.accept, acts.accept_coarse, acts.back):
        tools.addAction(a)
    tools.addSeparator()
    tools.addAction(acts.batch)
    tools.addAction(acts.train)

    view = bar.addMenu("&View")
    for a in acts.zoom():
        view.addAction(a)
    return Menus(recent, view)


def make_toolbar(acts: Actions) -> QToolBar:
    tb = QToolBar("Main")
    tb.setObjectName("main_toolbar")
    tb.setIconSize(QSize(24, 24))
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    tb.setMovable(False)
    for a in (acts.open, acts.save, None, acts.undo, acts.redo, None, *acts.tools(), None, *acts.zoom(), None):
        tb.addSeparator() if a is None else tb.addAction(a)
    # Remove is the main command: a labelled button
    tb.addAction(acts.remove)
    tb.widgetForAction(acts.remove).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.addAction(acts.cancel)
    spacer = QWidget()
    spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                         spacer.sizePolicy().verticalPolicy().Preferred)
    tb.addWidget(spacer)
    for a, label in ((acts.batch, "Batch"), (acts.train, "Fine-tune"), (acts.settings, "Settings")):
        tb.addAction(a)
        button = tb.widgetForAction(a)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setText(label)
    return tb
