"""Entry point: ``python main.py`` or ``python main.py gui [PHOTO]`` opens the
app; ``python main.py COMMAND ...`` runs a command (``python main.py --help``
lists them). The one place that knows both the app and the command line."""
import sys

USAGE = "usage: python main.py [gui] [PHOTO]   (the desktop app; python main.py --help: the commands)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] == "gui":
        if argv[1:2] in (["-h"], ["--help"]):
            print(USAGE)
            return 0
        from inpaint_gui.app import main as gui_main  # imported only here: the commands never load Qt

        return gui_main(argv[1:])
    from model.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
