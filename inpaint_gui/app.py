"""Entry point: ``main(argv) -> int`` (called by ``model.cli`` for
``python main.py``, ``python main.py gui PHOTO`` and ``inpaint-gui``)."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QStyleFactory

from .settings import APP, ORG


def main(argv: list[str] | None = None) -> int:
    """Open the app; ``argv`` holds the arguments after the program name
    (an optional photo path). Returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "inpaint-gui"])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName("Inpaint")
    if "Fusion" in QStyleFactory.keys():
        app.setStyle("Fusion")  # the same clean look on every platform

    from .main_window import MainWindow  # after QApplication: it creates pixmaps

    window = MainWindow()
    window.show()
    photos = [a for a in argv if not a.startswith("-")]
    if photos:
        window.open_photo(Path(photos[0]))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
