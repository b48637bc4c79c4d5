"""The texture step's two patch searches side by side on the eval's cases:
the torch search (``model.patch_search``, what a GPU runs) against
pypatchmatch, both on this machine's device.

    python -m benchmarks.texture_search [--device cpu] [--bins 10-20,20-30,30-40,40-50] [--per-bin N] [--seed 0] [--save DIR]

Each case is the eval's (``main.py eval --builtin`` with the same bins and
seed; ``--per-bin`` takes the first N per bin); each search fills it through
the whole ``Inpainter`` (network + texture step). Prints per bin the mean
deep distance, sharpness ratio and PSNR of the refined result, and the mean
seconds of one removal. ``--save`` writes each case's refined result per
search as PNG (to look at 100 %).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from model.evaluation.cases import EVAL_SIZE, builtin_eval_images, make_cases
from model.evaluation.report import resolve_deep
from model.inference import Inpainter
from model.metrics import psnr, sharpness_ratio
from model.texture import TextureOptions, available

SEARCHES = ("torch", "pypatchmatch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights")
    parser.add_argument("--bins", default="10-20,20-30,30-40,40-50")
    parser.add_argument("--per-bin", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    searches = SEARCHES if available() else SEARCHES[:1]
    models = {s: Inpainter(args.weights, args.device, texture_options=TextureOptions(search=s)) for s in searches}
    cases = make_cases(builtin_eval_images(), args.bins, args.seed, size=EVAL_SIZE)
    if args.per_bin:
        seen: dict[str, int] = {}
        cases = [c for c in cases if seen.setdefault(c.bin, 0) < args.per_bin and not seen.update({c.bin: seen[c.bin] + 1})]
    judge, note = resolve_deep("auto")
    rows: dict[str, dict[str, list[float]]] = {}
    for model in models.values():
        model(cases[0].image, cases[0].hole)  # warm-up
    for i, case in enumerate(cases):
        for name, model in models.items():
            t0 = time.perf_counter()
            out = model(case.image, case.hole).refined
            seconds = time.perf_counter() - t0
            row = rows.setdefault(name, {}).setdefault(case.bin, [])
            deep = judge(out, case.image) if judge is not None else float("nan")
            row.append((deep, sharpness_ratio(out, case.image, case.hole), psnr(out, case.image), seconds))
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(args.save / f"{i:02d}_{name}.png"), out[..., ::-1])
        print(f"case {i + 1}/{len(cases)} {case.name} {case.bin}: " + ", ".join(
            f"{n} deep {rows[n][case.bin][-1][0]:.3f} sharp {rows[n][case.bin][-1][1]:.2f}" for n in models), flush=True)
    if note:
        print(note)
    print(f"device {args.device}; {len(cases)} cases; mean per bin: deep / sharpness / PSNR / s per removal")
    for name, bins in rows.items():
        every = [r for b in bins.values() for r in b]
        cells = [f"{b} {np.mean([r[0] for r in v]):.3f} / {np.mean([r[1] for r in v]):.2f} / "
                 f"{np.mean([r[2] for r in v]):.2f}" for b, v in bins.items()]
        print(f"{name:13s} " + " | ".join(cells) + f" | all {np.mean([r[0] for r in every]):.3f} / "
              f"{np.mean([r[1] for r in every]):.2f} / {np.mean([r[2] for r in every]):.2f}"
              f" | {np.mean([r[3] for r in every]):.2f} s")


if __name__ == "__main__":
    main()
