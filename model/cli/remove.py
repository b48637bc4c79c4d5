"""``python main.py remove IMAGE --mask MASK [-o OUT] [--coarse OUT2] [--method NAME]``: one photo."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import add_device_weights, open_inpainter, unread_flags


def add_command(sub: argparse._SubParsersAction) -> None:
    rm = sub.add_parser("remove", help="remove the masked region of one photo",
                        description="Fill the masked region of one photo (white = remove) and write the result "
                                    "in the photo's own format with its metadata; the input is never modified.")
    rm.add_argument("image", type=Path, help="the photo (JPEG, PNG, TIFF, WebP, ...)")
    rm.add_argument("--mask", type=Path, required=True, help="mask image: white (non-zero) = remove")
    rm.add_argument("-o", "--out", type=Path, help="the result (default: IMAGE_cleaned.EXT)")
    rm.add_argument("--coarse", type=Path, help="also write the network's coarse (stage-1) result here")
    add_device_weights(rm)
    rm.set_defaults(func=run)


def terminal_progress(stream):
    """A progress callback that rewrites one line on ``stream`` (step, %,
    time left); None when ``stream`` is not a terminal (logs and pipes stay quiet)."""
    if not stream.isatty():
        return None
    import time

    from ..inference import seconds_left
    start = time.monotonic()

    def show(step: str, fraction: float) -> None:
        left = seconds_left(time.monotonic() - start, fraction)
        line = f"removing: {step} {fraction * 100:3.0f} %" + (f", about {left:.0f} s left" if left is not None else "")
        stream.write("\r" + line.ljust(48))
        stream.flush()
    return show


def run(args: argparse.Namespace) -> int:
    from ..fill import filler_class
    from ..masks import check_hole_fraction
    from ..paths import output_file_problem
    from ..photos.files import cleaned_path
    from ..photos.imageio import ImageReadError, read_mask, read_photo
    from ..photos.savefile import check_output, save_like

    problem = unread_flags(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    out = args.out or cleaned_path(args.image)
    targets = [("-o", out)] + ([("--coarse", args.coarse)] if args.coarse else [])
    for option, target in targets:  # everything about the outputs is checked before the model runs
        for what, source in (("input photo", args.image), ("mask", args.mask)):
            if os.path.realpath(target) == os.path.realpath(source):
                print(f"error: refusing to overwrite the {what} {source} ({option} {target})", file=sys.stderr)
                return 2
        problem = output_file_problem(target)  # a folder, or a path under a file
        if problem is not None:
            print(f"error: {option} {target} {problem}", file=sys.stderr)
            return 2
    if args.coarse and os.path.realpath(args.coarse) == os.path.realpath(out):
        print(f"error: --coarse and -o are the same file {out}", file=sys.stderr)
        return 2
    if args.coarse and "coarse" not in filler_class(args.method).outputs:
        print(f"error: --coarse: the {args.method} method has no coarse stage (only the network has one)",
              file=sys.stderr)
        return 2
    try:
        photo, hole = read_photo(args.image), read_mask(args.mask)
    except ImageReadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    image = photo.rgb
    try:
        for _, target in targets:
            check_output(target, photo)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if hole.shape != image.shape[:2]:
        print(f"error: mask {args.mask} is {hole.shape[1]}x{hole.shape[0]} but photo {args.image} "
              f"is {image.shape[1]}x{image.shape[0]}", file=sys.stderr)
        return 1
    if not hole.any():
        print(f"nothing to remove in {args.image}: the mask {args.mask} is all black (white = remove); "
              f"{out} not written", file=sys.stderr)
        return 0
    try:
        check_hole_fraction(hole)
    except ValueError as exc:
        print(f"error: mask {args.mask}: {exc}", file=sys.stderr)
        return 1
    inpainter = open_inpainter(args)
    if inpainter is None:
        return 2
    progress = terminal_progress(sys.stderr)
    result = inpainter(image, hole, progress=progress)
    if progress is not None:
        print(file=sys.stderr)  # end the progress line
    for (_, target), pixels in zip(targets, (result.image, result.stage("coarse"))):
        try:
            save_like(pixels, target, args.image)
        except (OSError, ValueError) as exc:
            print(f"error: cannot write {target}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 1
        print(f"wrote {target}")
    return 0
