"""Every message box and file chooser goes through these functions, so tests
(and headless runs) can replace them: ``monkeypatch.setattr(messages, "message", ...)``.
Call them as ``messages.message(...)``, never import the names directly."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

Button = QMessageBox.StandardButton
INFO, WARNING, ERROR, QUESTION = "info", "warning", "error", "question"

_ICONS = {INFO: QMessageBox.Icon.Information, WARNING: QMessageBox.Icon.Warning,
          ERROR: QMessageBox.Icon.Critical, QUESTION: QMessageBox.Icon.Question}


def message(parent: QWidget | None, kind: str, title: str, text: str,
            buttons: Button = Button.Ok, default: Button = Button.NoButton, details: str = "") -> Button:
    """A modal message box; returns the button pressed."""
    box = QMessageBox(_ICONS[kind], title, text, buttons, parent)
    if default != Button.NoButton:
        box.setDefaultButton(default)
    if details:
        box.setDetailedText(details)
    return Button(box.exec())


def get_open_path(parent: QWidget | None, caption: str, start: str, filters: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, caption, start, filters)
    return path


def get_save_path(parent: QWidget | None, caption: str, start: str, filters: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, caption, start, filters)
    return path


def get_folder(parent: QWidget | None, caption: str, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption, start)
