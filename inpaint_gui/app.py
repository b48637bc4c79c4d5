"""Entry point: ``main(argv) -> int`` (called by ``model.cli`` for
``python main.py``, ``python main.py gui PHOTO`` and ``inpaint-gui``)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Set to a file path, the app reports its first shown window there as JSON and
# quits (the real-platform start-up test in tests/test_xcb_launch.py).
SMOKE_ENV = "INPAINT_GUI_SMOKE_REPORT"


def main(argv: list[str] | None = None) -> int:
    """Open the app; ``argv`` holds the arguments after the program name
    (an optional photo path). Returns the exit code (2: Qt cannot start)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Before Qt is imported: a missing system library would abort the process
    # inside Qt with an unhelpful message (exit 134).
    from .syslibs import startup_problem
    problem = startup_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication, QStyleFactory

    from .settings import APP, ORG

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
    if os.environ.get(SMOKE_ENV):
        _report_and_quit(app, window, Path(os.environ[SMOKE_ENV]))
    code = app.exec()
    _exit_without_waiting(code)
    return code


def _exit_without_waiting(code: int) -> None:
    """Quit means quit: when the window has closed (its jobs cancelled, given
    a second to stop) and work still runs, end the process now. What still
    runs cannot be interrupted and its result is thrown away: a patch search
    in C (Python would join the engine's pool threads at exit: minutes on a
    12 MP hole), a GrabCut, torch being imported. Nothing is lost: settings
    are written as they change and every file is written atomically (a temp
    file renamed), so no file is left half-written. With nothing running,
    Python exits as usual."""
    import threading

    running = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    if running:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _report_and_quit(app, window, report: Path) -> None:
    """Once the window is exposed on screen: write what a user would see
    (platform, visibility, size, title, the opened photo) and quit."""
    from PySide6.QtCore import QTimer

    def check(tries: list[int] = [0]) -> None:  # noqa: B006 - a counter across calls
        tries[0] += 1
        handle = window.windowHandle()
        exposed = handle is not None and handle.isExposed()
        loading = window.removal.is_loading()  # let the model load: quitting mid-load aborts the thread
        if (not exposed or loading) and tries[0] < 2400:
            QTimer.singleShot(50, check)
            return
        grab = window.grab()
        shot = report.with_suffix(".png")
        grab.save(str(shot))
        report.write_text(json.dumps({
            "platform": app.platformName(), "visible": window.isVisible(), "exposed": bool(exposed),
            "width": window.width(), "height": window.height(), "title": window.windowTitle(),
            "photo": str(window.path) if window.path else None,
            "image_size": list(window.image.shape[:2]) if window.image is not None else None,
            "model": window.status_model.text(), "model_error": window.model_error,
            "screenshot": str(shot)}))
        window.modified = False
        app.quit()

    QTimer.singleShot(0, check)


if __name__ == "__main__":
    sys.exit(main())
