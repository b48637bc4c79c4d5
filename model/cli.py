"""Command line: ``python main.py [gui|remove|batch|train|eval|watermark-mask|fetch-data]``.

Each command's module registers its own sub-parser (``add_cli``) and handler,
so this file only wires them. Exit codes: 0 ok, 1 some files failed, 2 usage.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# Modules that define add_cli(subparsers); imported lazily so that a missing
# optional part never breaks the others.
COMMAND_MODULES = ("model.cli", "model.batch", "model.watermark", "model.trainer",
                   "model.evaluate", "model.datasets")


def valid_devices() -> list[str]:
    """The --device values that work on this machine."""
    import torch

    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def check_device(name: str) -> str | None:
    """None when ``--device name`` can be used here, else the message to print."""
    valid = valid_devices()
    if name in valid:
        return None
    kind = name.split(":")[0]
    known = {"cuda": "CUDA is not available here" if "cuda" not in valid else "there is no such CUDA device here",
             "mps": "Apple MPS is not available here"}
    why = known.get(kind, "not a device name")
    return f"--device {name}: {why}; valid devices here: {', '.join(valid)}"


def add_device_weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--weights", type=Path, help="model checkpoint (default: $INPAINT_WEIGHTS, then the bundled model)")
    parser.add_argument("--texture", choices=("on", "off"), default="on",
                        help="stage 2's texture step: the photo's own detail (PatchMatch) under the "
                             "network's colours and shapes (default on; off: the network's fill alone)")


def add_cli(sub: argparse._SubParsersAction) -> None:
    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("photo", nargs="?", type=Path, help="photo to open")
    gui.set_defaults(func=run_gui)

    rm = sub.add_parser("remove", help="remove the masked region of one photo")
    rm.add_argument("image", type=Path)
    rm.add_argument("--mask", type=Path, required=True, help="mask image: white (non-zero) = remove")
    rm.add_argument("-o", "--out", type=Path, help="refined result (default: IMAGE_cleaned.EXT)")
    rm.add_argument("--coarse", type=Path, help="also write the coarse (stage-1) result here")
    add_device_weights(rm)
    rm.set_defaults(func=run_remove)


def open_inpainter(args: argparse.Namespace):
    """The model for a command (``--weights``, ``--device``), or None after
    printing why it cannot be loaded (the caller exits with 2)."""
    from .inference import Inpainter

    # eval's --run-size / --scales try other inference settings; other commands use the model's own
    run_size, scales = getattr(args, "run_size", None), getattr(args, "scales", None)
    try:
        return Inpainter(args.weights, args.device, model_size=run_size, scales=scales,
                         texture=getattr(args, "texture", "on") == "on")
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def run_gui(args: argparse.Namespace) -> int:
    try:
        from inpaint_gui.app import main as gui_main
    except ImportError as exc:
        print(f"the desktop app is not available: {exc}", file=sys.stderr)
        return 2
    return gui_main([str(args.photo)] if getattr(args, "photo", None) else [])


def run_remove(args: argparse.Namespace) -> int:
    import os

    from .imageio import ImageReadError, read_mask, read_photo
    from .masks import check_hole_fraction
    from .savefile import check_output, save_like

    out = args.out or args.image.with_name(f"{args.image.stem}_cleaned{args.image.suffix}")
    targets = [("-o", out)] + ([("--coarse", args.coarse)] if args.coarse else [])
    for option, target in targets:  # everything about the outputs is checked before the model runs
        for what, source in (("input photo", args.image), ("mask", args.mask)):
            if os.path.realpath(target) == os.path.realpath(source):
                print(f"error: refusing to overwrite the {what} {source} ({option} {target})", file=sys.stderr)
                return 2
        if target.is_dir():
            print(f"error: {option} {target} is a folder; give a file name", file=sys.stderr)
            return 2
    if args.coarse and os.path.realpath(args.coarse) == os.path.realpath(out):
        print(f"error: --coarse and -o are the same file {out}", file=sys.stderr)
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
    result = inpainter(image, hole)
    for (_, target), pixels in zip(targets, (result.refined, result.coarse)):
        try:
            save_like(pixels, target, args.image)
        except (OSError, ValueError) as exc:
            print(f"error: cannot write {target}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 1
        print(f"wrote {target}")
    return 0


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
        prog=program_name(), description="Remove objects from photos (region-wise coarse-to-fine inpainting).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "add_cli"):
            module.add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return run_gui(args)
    device = getattr(args, "device", None)
    if isinstance(device, str) and (problem := check_device(device)):
        parser.exit(2, f"{parser.prog} {args.command}: error: {problem}\n")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def gui_entry() -> int:
    return run_gui(argparse.Namespace(photo=Path(sys.argv[1]) if len(sys.argv) > 1 else None))
