"""Command line: ``python main.py COMMAND`` or ``inpaint COMMAND`` (``python -m model.cli``).

All argument parsing lives in this package, one module per command; each
defines ``add_command(subparsers)`` and the handler it sets as ``func``. The
library below (``model/``) takes option dataclasses and never sees argparse.
The desktop app is not a command here (the core never imports the GUI):
``python main.py`` / ``python main.py gui [PHOTO]`` or ``inpaint-gui`` open it.
Exit codes: 0 ok, 1 some files failed, 2 usage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import batch, eval, fetch_data, remove, train, watermark_mask
from .common import check_device

COMMANDS = (remove, batch, watermark_mask, train, eval, fetch_data)


def program_name(argv0: str | None = None) -> str:
    """How the user invoked us, for the usage line: ``python main.py``,
    ``inpaint`` (the console script), ..."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = Path(argv0).name if argv0 and argv0 not in ("-c", "-m") else "inpaint"
    if name == "__main__.py":
        name = Path(argv0).parent.name
    return f"python {name}" if name.endswith(".py") else name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(), description="Remove objects from photos (region-wise coarse-to-fine inpainting).",
        epilog="The desktop app: python main.py [gui] [PHOTO], or inpaint-gui.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="what to do (COMMAND --help: its options)")
    for module in COMMANDS:
        module.add_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    device = getattr(args, "device", None)
    if isinstance(device, str) and (problem := check_device(device)):
        parser.exit(2, f"{parser.prog} {args.command}: error: {problem}\n")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
