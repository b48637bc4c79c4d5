"""Training throughput: crops/s of the trainer's own step, and the share of the card's bf16 peak.

    python -m benchmarks.train_throughput --device cuda [--batch-size 64] [--size 256] [--steps 30]
        [--recipes default,default-x1.5,paper] [--data DIR] [--compile] [--pipeline auto] [--json FILE]

Each recipe builds a real ``Trainer`` (model/training) from ``TrainOptions``
and times ``train_step`` on the batches its pipeline makes (``--pipeline
auto``: made on the device on CUDA, by the CPU DataLoader elsewhere), so the
figure is what ``main.py train`` gets with the same flags:

* ``default``: the bundled plan with its L1 recipe (``--lambda-corr 0
  --lambda-style 0``), the harmonic prefill (the one the device can make);
* ``default-x1.5``: the same, 1.5 times wider (``--widen 1.5``: the
  campaign's model in scripts/train_gpu_slice.sh);
* ``paper``: the paper's plan (zero prefill) with the paper's losses (L1,
  correlation, style: TrainOptions' defaults).

It also times the batch pipeline alone, and counts the FLOPs of one whole
training step per crop (network forward and backward, VGG loss passes) with
``torch.utils.flop_counter``; achieved TFLOP/s over the card's dense bf16
peak (a table of datasheet figures, or ``--peak-tflops``) is the share
reported. Photos: ``--data`` (e.g. data/debian-photos), else 12 synthetic
1024x768 ones made in a temp folder.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from model.devices import describe, resolve_device
from model.training.options import TrainOptions
from model.training.trainer import Trainer

# Dense bf16 tensor-core peaks from the vendors' datasheets (TFLOP/s), by a
# part of the name torch reports; the first match wins.
BF16_PEAK_TFLOPS = (("H200", 989.0), ("H100", 989.0), ("GH200", 989.0), ("A100", 312.0), ("L40S", 362.0),
                    ("L4", 121.0), ("A10", 125.0), ("RTX 4090", 165.0), ("RTX 3090", 71.0))

RECIPES = {
    "default": dict(config="default", prefill="harmonic", lambda_corr=0.0, lambda_style=0.0),
    "default-x1.5": dict(config="default", prefill="harmonic", widen=1.5, lambda_corr=0.0, lambda_style=0.0),
    "paper": dict(config="paper"),  # zero prefill, TrainOptions' default (paper) loss weights
}


def synthetic_photos(folder: Path, count: int = 12) -> Path:
    """Smooth random colour fields with a few hard edges, 1024x768 PNGs."""
    rng = np.random.default_rng(0)
    for i in range(count):
        small = rng.integers(0, 256, (12, 16, 3)).astype(np.uint8)
        image = cv2.resize(small, (1024, 768), interpolation=cv2.INTER_CUBIC)
        for _ in range(6):
            p1, p2 = tuple(int(v) for v in rng.integers(0, 768, 2)), tuple(int(v) for v in rng.integers(0, 768, 2))
            cv2.line(image, p1, p2, tuple(int(v) for v in rng.integers(0, 256, 3)), int(rng.integers(2, 12)))
        image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"synthetic_{i:02d}.png"), image[..., ::-1])
    return folder


def bf16_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_PEAK_TFLOPS if key in name), None)


def step_flops(trainer: Trainer, batch: tuple[torch.Tensor, ...]) -> int:
    """FLOPs of one whole training step on ``batch`` (counted, not estimated)."""
    from torch.utils.flop_counter import FlopCounterMode

    forward, trainer.forward = trainer.forward, trainer.net  # a compiled graph hides its ops from the counter
    try:
        with FlopCounterMode(display=False) as counter:
            trainer.train_step(batch)
    finally:
        trainer.forward = forward
    return counter.get_total_flops()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(recipe: str, data: Path, out: Path, args: argparse.Namespace) -> dict:
    opts = TrainOptions(data_dir=data, out_dir=out / recipe, steps=args.warmup + args.steps + 1,
                        batch_size=args.batch_size, size=args.size, device=args.device, scratch=True,
                        compile=args.compile, pipeline=args.pipeline, workers=args.workers, val_fraction=0.1,
                        **RECIPES[recipe])
    started = time.perf_counter()
    trainer = Trainer(opts)
    setup_s = time.perf_counter() - started
    device = trainer.device
    batches = trainer._batches()
    started = time.perf_counter()
    for _ in range(args.warmup):  # compilation, cuDNN's algorithm search, the loader's start
        trainer.train_step(next(batches))
    sync(device)
    warmup_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step(next(batches))
    sync(device)
    step_s = (time.perf_counter() - started) / args.steps
    # the batches alone (device pipeline: the same batches again; loader: new ones)
    if trainer.device_batches is not None:
        started = time.perf_counter()
        for s in range(args.steps):
            last = trainer.device_batches.batch(s)
        sync(device)
        data_s = (time.perf_counter() - started) / args.steps
    else:
        trainer.step, step = 0, trainer.step  # the loader starts at the trainer's step: from the first batch again
        loader = iter(trainer._loader())
        trainer.step = step
        next(loader)
        started = time.perf_counter()
        for _ in range(min(args.steps, 5)):
            last = next(loader)
        data_s = (time.perf_counter() - started) / min(args.steps, 5)
    flops = step_flops(trainer, last) / args.batch_size
    crops_per_s = args.batch_size / step_s
    achieved = crops_per_s * flops / 1e12
    peak = args.peak_tflops or bf16_peak(device)
    return {"recipe": recipe, "config": trainer.cfg.name, "params_m": sum(p.numel() for p in trainer.net.parameters()) / 1e6,
            "pipeline": trainer.pipeline, "prefill": trainer.cfg.prefill, "bf16": trainer.amp,
            "fused_adam": bool(trainer.optimizer.defaults.get("fused")), "compile": args.compile,
            "crops_per_s": crops_per_s, "steps_per_s": 1 / step_s, "data_crops_per_s": args.batch_size / data_s,
            "step_gflop_per_crop": flops / 1e9, "achieved_tflops": achieved, "peak_tflops": peak,
            "peak_share": achieved / peak if peak else None, "setup_s": setup_s, "warmup_s": warmup_s,
            "max_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per recipe")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--recipes", default="default,paper", help=f"of {','.join(RECIPES)}")
    parser.add_argument("--data", type=Path, help="folder of photos (default: synthetic ones)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (--compile)")
    parser.add_argument("--pipeline", default="auto", choices=("auto", "device", "loader"))
    parser.add_argument("--workers", type=int, default=-1, help="loader workers (--pipeline loader)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak (default: datasheet table)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    args.device = str(device)
    print(f"device: {describe(device)}, torch {torch.__version__}, threads {torch.get_num_threads()}; "
          f"batch {args.batch_size} at {args.size}², {args.steps} timed steps after {args.warmup}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = args.data or synthetic_photos(_mkdir(tmp / "photos"))
        for recipe in args.recipes.split(","):
            if recipe not in RECIPES:
                parser.error(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
            r = measure(recipe, data, tmp / "runs", args)
            rows.append(r)
            share = f"{100 * r['peak_share']:.1f} %" if r["peak_share"] is not None else "-"
            print(f"{r['recipe']:13} {r['params_m']:.2f} M params, {r['pipeline']} pipeline, {r['prefill']} prefill, "
                  f"bf16 {r['bf16']}, fused Adam {r['fused_adam']}, compile {r['compile']}: "
                  f"{r['crops_per_s']:.1f} crops/s ({r['steps_per_s']:.2f} steps/s); batches alone "
                  f"{r['data_crops_per_s']:.0f} crops/s; {r['step_gflop_per_crop']:.1f} GFLOP per crop "
                  f"-> {r['achieved_tflops']:.2f} TFLOP/s = {share} of the bf16 peak"
                  + (f"; set-up {r['setup_s']:.0f} s, warm-up {r['warmup_s']:.0f} s" if device.type == "cuda" else ""),
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": describe(device), "args": {k: str(v) for k, v in vars(args).items()},
                                         "results": rows}, indent=2))


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    main()
