"""``python main.py watermark-mask INPUT_DIR -o MASK.png [--sample N]``: estimate
a folder's shared watermark (``model/jobs/watermark_estimate.py``) and write it."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_command(sub: argparse._SubParsersAction) -> None:
    from ..jobs.watermark_options import SAMPLE

    p = sub.add_parser("watermark-mask", help="estimate the watermark shared by a folder of photos",
                       description="Find what is the same at the same place in many photos (a watermark) "
                                   "and write it as a mask (white = remove) for `batch --mask`.")
    p.add_argument("input_dir", type=Path, help="folder of photos that share the watermark")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="mask file to write (PNG); its opacity and colour go to MASK_alpha.png and MASK_colour.png")
    p.add_argument("--sample", type=int, default=SAMPLE,
                   help=f"photos to analyse (default {SAMPLE}; 20 or more for a good opacity estimate)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..jobs.watermark_options import MIN_PHOTOS
    from ..jobs.watermark_estimate import watermark_from_folder
    from ..jobs.watermark_model import companion_paths, NoWatermarkError
    from ..paths import is_inside, output_file_problem
    from ..photos.savefile import output_format

    try:
        output_format(args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.input_dir.is_dir():
        print(f"error: input folder not found: {args.input_dir}", file=sys.stderr)
        return 2
    for target in (args.out, *companion_paths(args.out)):  # all three files are checked before any work
        problem = output_file_problem(target)
        if problem is None and is_inside(target, args.input_dir):
            # it could replace a photo, and later estimates would read it as one
            problem = (f"lies inside the photo folder {args.input_dir}; write it elsewhere "
                       "(the photos are never written to)")
        if problem is not None:
            print(f"error: the output {target} {problem}", file=sys.stderr)
            return 2
    if args.sample < MIN_PHOTOS:
        print(f"error: --sample must be at least {MIN_PHOTOS}", file=sys.stderr)
        return 2
    try:
        result = watermark_from_folder(args.input_dir, args.sample)
    except NoWatermarkError as exc:
        print(f"no watermark found: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    w, h = result.size
    for path, reason in result.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if result.other_sizes:
        print(f"note: using the most common size {w}x{h}; {result.other_sizes} photos of other sizes "
              f"were left out (map the mask onto them with batch --mask-fit)", file=sys.stderr)
    mask = result.mask
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    try:
        result.save(args.out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    area = int(mask.sum())
    alpha_path, colour_path = companion_paths(args.out)
    strong = result.alpha > 0.1
    photos = (f"{len(result.used)} photos of {len(result.fits)} sizes, at {w}x{h}" if result.placement is not None
              else f"{len(result.used)} photos of {w}x{h}")
    print(f"watermark mask from {photos}: box x {x0}-{x1}, y {y0}-{y1} "
          f"({x1 - x0}x{y1 - y0}), area {area} px ({100 * area / (w * h):.2f} %) -> {args.out}")
    print(f"opacity (median {float(np.median(result.alpha[strong])) if strong.any() else 0:.2f}, "
          f"max {float(result.alpha.max()):.2f}) -> {alpha_path}; colour -> {colour_path}")
    if result.placement is not None:  # photos of several sizes: the mark is scaled to each by this rule
        print(f"placement: {result.placement.describe()} (estimated at {w}x{h}; saved with the files)")
    if result.without:
        print(f"{len(result.without)} photos do not carry the mark and were left out: "
              + ", ".join(str(p) for p in result.without[:5]) + (" ..." if len(result.without) > 5 else ""))
    return 0
