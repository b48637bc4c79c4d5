"""``python main.py eval [IMAGES_DIR | --builtin] [--masks DIR | --bins 10-20,... --seed S]
[--per-bin N] [--method NAME] [--weights W] [--device D] [--baselines telea,ns,patchmatch,biharmonic]
[--json OUT.json] [--sheet OUT.png] [--size 512] [--no-deep]``
``python main.py eval IMAGES_DIR --hires [--held-out] [--seed S] [--json J] [--sheet S]``

The model against classical fills (``model/evaluation``; docs/eval.md).
Photos are centre-cropped to a square and resized to ``--size``; masks are
seeded free-form strokes and object-like blobs whose hole area lies in each
bin. ``--hires``: the photos at full resolution with one seeded object-shaped
hole each (2-8 % of the area); scores on a 512² hole-centred crop, the
sharpness over the whole hole, and a sheet of those crops at 100 % zoom.
``--method`` chooses the fill scored as ours (default the network); the
baselines are fillers too (``model.fill``), by name.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from ..netconfig import parse_scales
from .common import add_device_weights, open_inpainter, texture_on, unread_flags


def add_command(sub: argparse._SubParsersAction) -> None:
    from ..evaluation.defaults import BASELINES, DEFAULT_BINS, EVAL_SIZE, HIRES_BASELINES

    p = sub.add_parser("eval", help="compare the model with classical fills (PSNR, SSIM, L1 per hole-area bin)",
                       description="Score the model against classical fills (Telea, Navier-Stokes, PatchMatch, "
                                   "biharmonic) on photos with seeded holes in each hole-area bin: PSNR, SSIM, "
                                   "L1 and a deep-feature distance per bin, optionally a comparison sheet. "
                                   "--hires: full-size photos, one object-shaped hole each (docs/eval.md).")
    p.add_argument("images", nargs="?", type=Path, help="folder of photos (or use --builtin)")
    p.add_argument("--builtin", action="store_true",
                   help="use the photos bundled with scikit-image, scikit-learn and matplotlib")
    p.add_argument("--masks", type=Path, help="folder of mask files (white = hole) instead of generated masks")
    p.add_argument("--bins", default=DEFAULT_BINS, help=f"hole-area bins in %% (default {DEFAULT_BINS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated masks (default 0)")
    p.add_argument("--per-bin", type=int, help="cases per bin (default: one per photo)")
    p.add_argument("--baselines", help=f"fill methods to compare with (default {','.join(BASELINES)}; "
                                       f"with --hires {','.join(HIRES_BASELINES)})")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--sheet", type=Path, help="write a comparison sheet PNG here")
    p.add_argument("--size", type=int, default=EVAL_SIZE, help=f"square side of the test images (default {EVAL_SIZE})")
    p.add_argument("--held-out", action="store_true",
                   help="only the photos of IMAGES_DIR the trainer holds out for validation (searched "
                        "recursively, as the trainer does): tune settings there, not on the test photos")
    p.add_argument("--run-size", type=int, help="longest crop side the network sees (default: the model's)")
    p.add_argument("--scales", type=_scales_arg, help="e.g. 1,0.5,0.25: fill at these fractions of the run "
                                                      "size and average (default: the model's)")
    p.add_argument("--hires", action="store_true",
                   help="high-resolution check instead of the bins: the photos of IMAGES_DIR (with "
                        "--held-out: the validation ones) at full size, one seeded object-shaped hole "
                        "(2-8 %% of the area) each; deep distance on a 512² hole-centred crop, sharpness "
                        "over the whole hole; --sheet writes the crops at 100 %% zoom")
    p.add_argument("--no-deep", action="store_true", help="leave out the deep distance (faster)")
    add_device_weights(p)
    p.set_defaults(func=run)


def _scales_arg(text: str) -> tuple[float, ...]:
    try:
        return parse_scales(text)
    except ValueError as exc:  # argparse shows this message, not a generic one
        raise argparse.ArgumentTypeError(str(exc)) from None


def inpainter_options(args: argparse.Namespace) -> dict:
    """The ``Inpainter`` keyword arguments that eval's flags choose (None =
    the model's own setting), those the ``--method`` reads (none for a
    classical fill). A new inference option gets its flag in ``add_command``
    and its entry here; the results record these."""
    from ..fill import FILLERS

    options = {"run_size": args.run_size, "scales": args.scales, "texture": texture_on(args)}
    return {name: value for name, value in options.items() if name in FILLERS[args.method].own_settings}


def _method_info(args: argparse.Namespace) -> dict:
    """``{"method": NAME}`` for a method other than the default (the network):
    the results say what was scored as ours. The network's results keep the
    keys they had before ``--method`` (docs/eval_default.json)."""
    from ..fill import InferenceOptions
    from ..option import default_of

    return {} if args.method == default_of(InferenceOptions, "method") else {"method": args.method}


def build_inpainter(args: argparse.Namespace):
    """The one place eval builds the model, for the bins and --hires alike
    (``--weights``, ``--device`` and ``inpainter_options``); None after
    printing why it cannot be loaded."""
    return open_inpainter(args, **inpainter_options(args))


def _run_settings(inpainter) -> dict:
    """The network's run size and scales as the results record them (None for a fill without them)."""
    scales = getattr(inpainter, "scales", None)
    return {"run_size": getattr(inpainter, "run_size", None), "scales": None if scales is None else list(scales)}


def _weights_info(inpainter) -> dict:
    path = inpainter.weights_path
    shown = path
    if path and Path(path).resolve().is_relative_to(Path.cwd()):
        shown = Path(path).resolve().relative_to(Path.cwd())  # repo-relative in committed results
    info = {"weights": str(shown) if path else None, "meta": inpainter.meta}
    if path:
        info["weights_sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return info


def run(args: argparse.Namespace) -> int:
    from ..evaluation.baselines import BASELINES, HIRES_BASELINES, available_baselines
    from ..evaluation.cases import (EVAL_KINDS, builtin_eval_images, cases_from_masks, folder_images, folder_masks,
                                    held_out_images, make_cases)
    from ..evaluation.report import evaluate_cases, format_paired, format_table, write_json
    from ..evaluation.sheets import SHEET_COLUMNS, comparison_sheet, sheet_columns, sheet_rows
    from ..masks import area_bins

    problem = unread_flags(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if (args.images is None) == (not args.builtin):
        print("error: give a folder of photos or --builtin (one of them)", file=sys.stderr)
        return 2
    if args.held_out and args.images is None:
        print("error: --held-out needs the training folder", file=sys.stderr)
        return 2
    if args.hires and (args.images is None or args.masks):
        print("error: --hires needs a folder of photos (and generates its own masks)", file=sys.stderr)
        return 2
    default_baselines = HIRES_BASELINES if args.hires else BASELINES
    try:
        bins = area_bins(args.bins)
        baselines, notes = available_baselines((args.baselines or ",".join(default_baselines)).split(","))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    if args.images is not None and not args.images.is_dir():
        print(f"error: {args.images} is not a folder", file=sys.stderr)
        return 2
    if args.hires:
        return _run_hires(args, baselines, notes)

    if args.builtin:
        images, skipped = builtin_eval_images(), []
    elif args.held_out:
        images, skipped = held_out_images(args.images)
    else:
        images, skipped = folder_images(args.images)
    for msg in skipped:
        print(f"skipped {msg}", file=sys.stderr)
    if not images:
        print("error: no usable photos", file=sys.stderr)
        return 1

    if args.masks:
        cases, unused = cases_from_masks(images, folder_masks(args.masks), bins, args.per_bin, args.size)
        if unused:
            print(f"{len(unused)} mask(s) unused (area outside the bins, or the bin was full)", file=sys.stderr)
    else:
        cases = make_cases(images, bins, args.seed, args.per_bin, size=args.size)
    if not cases:
        print("error: no cases", file=sys.stderr)
        return 1

    inpainter = build_inpainter(args)
    if inpainter is None:
        return 2
    rows = sheet_rows(cases) if args.sheet else []  # keep only these cases' images (memory)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():  # a live counter; logs get no carriage-return noise
            print(f"\r{done}/{total} cases", end="\n" if done == total else "", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    results = evaluate_cases(inpainter, cases, baselines, keep_outputs=rows, progress=progress,
                             deep=None if args.no_deep else "auto")
    results = {"images": [name for name, _ in images], "size": args.size, **_run_settings(inpainter),
               "masks": str(args.masks) if args.masks else f"generated {'+'.join(EVAL_KINDS)}, seed {args.seed}",
               **_method_info(args), "device": str(inpainter.device), "options": inpainter_options(args),
               **_weights_info(inpainter),
               "left_out": notes, "wall_s": time.perf_counter() - t0, **results}
    network = f"run size {results['run_size']}, scales {','.join(map(str, results['scales']))}  " \
        if results["run_size"] is not None else f"method {args.method}  "
    print(f"weights: {results['weights']} {results['meta'] or ''}  device: {results['device']}  {network}"
          f"{len(images)} photos, {len(cases)} cases at {args.size}x{args.size}")
    print(format_table(results))
    print(format_paired(results))
    print(f"eval took {results['wall_s']:.0f} s")
    if args.json:
        print(f"wrote {write_json(results, args.json)}")
    if args.sheet:
        columns = sheet_columns(SHEET_COLUMNS, results["methods"], inpainter.outputs)
        comparison_sheet([cases[i] for i in rows], results["outputs"], args.sheet, columns,
                         scores=[results["cases"][i] for i in rows])
        print(f"wrote {args.sheet}")
    return 0


def _run_hires(args: argparse.Namespace, baselines: list[str], notes: list[str]) -> int:
    """``eval DIR --hires [--held-out]``: the high-resolution check."""
    from ..evaluation.cases import HIRES_AREA, held_out_paths, hires_case
    from ..evaluation.report import evaluate_hires, format_hires, write_json
    from ..evaluation.sheets import HIRES_COLUMNS, hires_sheet, sheet_columns
    from ..photos.files import readable_photos
    from ..photos.imageio import ImageReadError, read_image

    if args.held_out:
        paths, skipped = held_out_paths(args.images)
    else:
        paths, refused = readable_photos(args.images, recursive=False)
        skipped = [f"{path}: {reason}" for path, reason in refused]
    for msg in skipped:
        print(f"skipped {msg}", file=sys.stderr)
    if args.per_bin:
        paths = paths[:args.per_bin]
    if not paths:
        print("error: no usable photos", file=sys.stderr)
        return 1
    inpainter = build_inpainter(args)
    if inpainter is None:
        return 2

    def cases():  # one full-size photo in memory at a time
        for k, path in enumerate(paths):
            try:
                image = read_image(path)
            except ImageReadError as exc:
                print(f"skipped {exc}", file=sys.stderr)
                continue
            yield hires_case(path.stem, image, args.seed, k)

    t0 = time.perf_counter()
    results = evaluate_hires(inpainter, cases(), baselines, deep=None if args.no_deep else "auto",
                             keep_crops=bool(args.sheet), progress=lambda msg: print(msg, file=sys.stderr))
    results = {"photos": [str(p.name) for p in paths], "held_out": bool(args.held_out),
               "masks": f"object blobs {HIRES_AREA[0] * 100:g}-{HIRES_AREA[1] * 100:g} % of the area, seed {args.seed}",
               **_run_settings(inpainter),
               **_method_info(args), "device": str(inpainter.device), "options": inpainter_options(args),
               **_weights_info(inpainter),
               "left_out": notes, "wall_s": time.perf_counter() - t0, **results}
    print(f"weights: {results['weights']} {results['meta'] or ''}  device: {results['device']}")
    print(format_hires(results))
    print(f"high-resolution check took {results['wall_s']:.0f} s")
    if args.json:
        print(f"wrote {write_json({k: v for k, v in results.items() if k != 'crops'}, args.json)}")
    if args.sheet:
        hires_sheet(results, args.sheet, sheet_columns(HIRES_COLUMNS, results["methods"], inpainter.outputs))
        print(f"wrote {args.sheet}")
    return 0
