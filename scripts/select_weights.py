"""Replace the bundled weights with a candidate only when the held-out photos say so.

    python scripts/select_weights.py CANDIDATE [--data data/debian-photos] [--bundled resources/default.pt]
        [--device cpu] [--dry-run]

Scores CANDIDATE and the bundled weights with the project's evaluation on the
trainer's held-out photos, the network alone (``--texture off``), 30-50 %
holes: ``main.py eval DATA --held-out --bins 30-40,40-50 --per-bin 10
--seed 777 --texture off --baselines telea``. The candidate replaces the
bundled file only when its PSNR is higher AND its deep distance lower over
all those cases; otherwise nothing is written. The deep distance needs the
``eval`` extra (EfficientNet-Lite0): without it no weights are replaced.
Exit status: 0 replaced, 1 kept, 2 usage error.

Still a person's job before committing a replacement: look at 100 % at large
objects removed over bokeh and over structure (no ghost of the object), e.g.
``main.py eval --hires --held-out --weights CANDIDATE --texture off --sheet S``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL_ARGS = ["--held-out", "--bins", "30-40,40-50", "--per-bin", "10", "--seed", "777", "--texture", "off",
             "--baselines", "telea"]


def score(weights: Path, data: Path, device: str, out: Path) -> dict:
    """{psnr, ssim, deep, ...} of the network alone over all the held-out cases (the eval's JSON -> ``out``)."""
    command = [sys.executable, str(ROOT / "main.py"), "eval", str(data), *EVAL_ARGS, "--weights", str(weights),
               "--device", device, "--json", str(out)]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["table"]["all"]["refined"]


def main() -> int:
    from model.checkpoint import load_network, save_weights
    from model.paths import BUNDLED_WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "debian-photos")
    parser.add_argument("--bundled", type=Path, default=BUNDLED_WEIGHTS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dry-run", action="store_true", help="score and decide, write nothing")
    args = parser.parse_args()
    for path in (args.candidate, args.bundled):
        if not path.is_file():
            print(f"error: {path}: no such weights file", file=sys.stderr)
            return 2
    if not args.data.is_dir():
        print(f"error: {args.data}: not a folder (python main.py fetch-data debian-photos {args.data})",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        new = score(args.candidate, args.data, args.device, Path(tmp) / "candidate.json")
        old = score(args.bundled, args.data, args.device, Path(tmp) / "bundled.json")
    print(f"{'':10} {'PSNR':>8} {'SSIM':>8} {'deep':>8}")
    for name, s in (("bundled", old), ("candidate", new)):
        print(f"{name:10} {s['psnr']:8.3f} {s['ssim']:8.4f} {s.get('deep', float('nan')):8.4f}")
    if "deep" not in new or "deep" not in old:
        print("kept: the deep distance is missing (install the eval extra); nothing replaced")
        return 1
    better = new["psnr"] > old["psnr"] and new["deep"] < old["deep"]
    if not better:
        print("kept the bundled weights: the candidate is not better in both PSNR and deep distance")
        return 1
    if args.dry_run:
        print("the candidate is better in both (dry run: nothing written)")
        return 0
    net, ckpt = load_network(args.candidate)
    meta = dict(ckpt.get("meta", {}), selected=f"held-out 30-50 %: PSNR {new['psnr']:.3f} vs {old['psnr']:.3f}, "
                                               f"deep {new['deep']:.4f} vs {old['deep']:.4f}")
    save_weights(net, args.bundled, **meta)
    print(f"replaced {args.bundled} with {args.candidate}; look at 100 % before committing it (see --help)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
