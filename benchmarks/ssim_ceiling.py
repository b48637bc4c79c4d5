"""How much SSIM can a textured fill keep when its texture is not the truth's own?

    python -m benchmarks.ssim_ceiling [--bins 10-20,20-30,30-40,40-50] [--seed 0] [--size 512] [--sigma 3] [--shift 24] [--device cpu]

Issue #10 asks the refined fill for a sharpness ratio of 0.8-1.2 *and* an
SSIM above the smooth fills (Telea, NS, biharmonic). This measures, on the
eval cases of ``main.py eval --builtin`` (same photos, masks and seeds),
fills built from two bands split at a Gaussian of ``--sigma`` px:

* low band: the network's fill (``--texture off``) or the truth itself (an
  oracle that knows the hidden structure and colour exactly);
* fine band: none, or the truth's own fine band displaced by ``--shift`` px
  (the right texture in kind, amount and statistics, out of place: the
  best a fill can offer when it cannot know where the hidden texture's
  details lie).

Printed per bin: PSNR / SSIM / deep distance / sharpness ratio, scored as the
eval scores (whole image; sharpness over the hole), with the smooth fills
for reference. Fills are pasted into the hole without feathering.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from model.evaluation.baselines import baseline_fillers
from model.evaluation.cases import DEFAULT_BINS, EVAL_SIZE, builtin_eval_images, make_cases
from model.evaluation.report import resolve_deep
from model.inference import Inpainter
from model.metrics import psnr, sharpness_ratio, ssim

SMOOTH_FILLS = ("telea", "ns", "biharmonic")


def two_band_fills(truth: np.ndarray, network: np.ndarray, sigma: float, shift: int) -> dict[str, np.ndarray]:
    """The fills compared, float32 0..255 (only their hole pixels are used)."""
    low = lambda a: cv2.GaussianBlur(a, (0, 0), sigma)
    truth = truth.astype(np.float32)
    network = network.astype(np.float32)
    displaced = np.roll(truth - low(truth), (shift, shift), (0, 1))
    return {"network": network,
            "network low + displaced true texture": low(network) + displaced,
            "true low band (oracle)": low(truth),
            "true low band + displaced true texture": low(truth) + displaced}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bins", default=DEFAULT_BINS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=EVAL_SIZE)
    parser.add_argument("--sigma", type=float, default=3.0, help="band split, px (the texture step's at 512 px)")
    parser.add_argument("--shift", type=int, default=24, help="displacement of the true texture, px")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    cases = make_cases(builtin_eval_images(), args.bins, args.seed, size=args.size)
    network = Inpainter(device=args.device, texture=False)
    judge, note = resolve_deep("auto", args.device)
    scores: dict[str, dict[str, list[dict[str, float]]]] = {}
    smooth = baseline_fillers(SMOOTH_FILLS, whole_image=True)
    for case in cases:
        fills = {name: filler(case.image, case.hole).image for name, filler in smooth.items()}
        fills.update(two_band_fills(case.image, network(case.image, case.hole).refined, args.sigma, args.shift))
        outputs = {}
        for name, fill in fills.items():
            out = case.image.copy()
            out[case.hole] = np.clip(np.asarray(fill, np.float32)[case.hole], 0, 255).round().astype(np.uint8)
            outputs[name] = out
        deep = judge.distances(outputs, case.image) if judge is not None else {}
        for name, out in outputs.items():
            scores.setdefault(case.bin, {}).setdefault(name, []).append({
                "psnr": psnr(out, case.image), "ssim": ssim(out, case.image),
                "deep": deep.get(name, float("nan")), "sharpness": sharpness_ratio(out, case.image, case.hole)})

    print(f"{len(cases)} cases, band split at sigma {args.sigma} px, true texture displaced by {args.shift} px"
          + (f" ({note})" if note else ""))
    print(f"{'bin':8s}{'fill':42s}{'PSNR':>7s}{'SSIM':>8s}{'deep':>8s}{'sharp':>7s}")
    for bin_name, methods in scores.items():
        for name, rows in methods.items():
            m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            print(f"{bin_name:8s}{name:42s}{m['psnr']:7.2f}{m['ssim']:8.4f}{m['deep']:8.3f}{m['sharpness']:7.2f}")
        print()


if __name__ == "__main__":
    main()
