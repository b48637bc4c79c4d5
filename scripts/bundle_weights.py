"""Copy a trained checkpoint to resources/default.pt as weights only (no
optimiser), optionally changing the resolution the app runs it at.

    python scripts/bundle_weights.py runs/default-a/best.pt [--run-size 256] [--run-scales 1,0.5,0.25] [--note "..."]
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from model.checkpoint import load_network, save_weights
from model.network import parse_scales
from model.paths import BUNDLED_WEIGHTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("-o", "--out", type=Path, default=BUNDLED_WEIGHTS)
    parser.add_argument("--run-size", type=int, help="crop side the app feeds the network (default: its training size)")
    parser.add_argument("--run-scales", type=parse_scales, help="comma-separated fractions of the run size to fill at and average, e.g. 1,0.5,0.25")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    net, ckpt = load_network(args.checkpoint)
    if args.run_size:
        net.cfg = replace(net.cfg, run_size=args.run_size)
    if args.run_scales:
        net.cfg = replace(net.cfg, run_scales=args.run_scales)
    meta = dict(ckpt.get("meta", {}), source=str(args.checkpoint), note=args.note)
    save_weights(net, args.out, **meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): {net.cfg}")


if __name__ == "__main__":
    main()
