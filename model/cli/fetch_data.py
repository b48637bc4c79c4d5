"""``python main.py fetch-data debian-photos DIR``: the default training photos
(``model/training/fetch.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch-data", help="fetch the default training photos (Debian packages)",
                       description="Download the photographs the bundled model was trained on (from the Debian "
                                   "packages listed in resources/debian_photos.txt) into a folder.")
    p.add_argument("source", choices=["debian-photos"], help="which photos: debian-photos (the only source)")
    p.add_argument("out", type=Path, help="folder to write the photos to")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..training.fetch import FetchError, fetch_debian_photos

    try:
        return 0 if fetch_debian_photos(args.out) else 1
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
