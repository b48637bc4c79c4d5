"""Batch throughput on 12 MP JPEGs with a corner watermark mask.

    python -m benchmarks.batch [--count 100] [--megapixels 12] [--device cpu] [--texture on|off] [--keep DIR]
    python -m benchmarks.batch --cluster auto --workers N [...]    # on Ray (model/jobs/cluster.py)

Generates ``count`` photo-like JPEGs (quality 90) in a temp folder, runs
``model.jobs.batch.run_batch`` (the code behind ``main.py batch``) and prints
photos/s and where the time goes. Decode runs on prefetch threads and
encode on writer threads (``io_threads()`` of each: one on a 2-core machine,
four on 16 cores) while the model runs, so the per-stage times add up to
more than the wall time when they overlap.

With ``--cluster``, ``run_cluster_batch`` cleans them on Ray workers
(``--cluster auto``: a local cluster on this machine's cores; ``--workers N``
CPU workers, or one per GPU with ``--device auto``/``cuda`` on a machine with
GPUs). Besides the whole run's rate (which includes starting the workers and
loading their models) it prints the rate once every worker was ready.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from model.jobs.batch import io_threads, run_batch
from model.jobs.options import BatchOptions
from model.devices import describe


def photo(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Photo-like: smooth low-frequency colour, shapes with edges, fine grain.
    Built at 1/8 size and upscaled so generating 12 MP stays fast."""
    sh, sw = max(8, h // 8), max(8, w // 8)
    small = np.zeros((sh, sw, 3), np.float32)
    y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 3, 3)
        small[..., c] = 127 + 70 * np.sin(fx * x / sw * 6.28 + ph) * np.cos(fy * y / sh * 6.28)
    for _ in range(25):
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.circle(small, (int(rng.uniform(0, sw)), int(rng.uniform(0, sh))), int(rng.uniform(2, sw / 6)), colour, -1)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    grain = cv2.resize(rng.normal(0, 6, (h // 2, w // 2)).astype(np.float32), (w, h))
    img += grain[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def make_folder(folder: Path, count: int, megapixels: float, seed: int = 0) -> tuple[Path, Path]:
    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))  # 4:3, e.g. 4000 x 3000 for 12 MP
    rng = np.random.default_rng(seed)
    src = folder / "photos"
    src.mkdir(parents=True)
    base = photo(h, w, rng)
    for i in range(count):
        # vary the content cheaply: roll and tint the base photo
        img = np.roll(base, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
        img = cv2.add(img, tuple(int(v) for v in rng.integers(-20, 20, 3)) + (0,))
        Image.fromarray(img).save(src / f"IMG_{i:04d}.jpg", quality=90)
    mask = np.zeros((h, w), np.uint8)  # a watermark box near the bottom-right corner
    mh, mw = h // 20, w // 6
    mask[h - 2 * mh:h - mh, w - mw - mh:w - mh] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    return src, folder / "mask.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights")
    parser.add_argument("--texture", choices=("on", "off"), default="on")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--cluster", help="run on Ray: an address, or auto (a local cluster on this machine)")
    parser.add_argument("--workers", type=int, help="with --cluster: CPU workers (default one per CPU)")
    parser.add_argument("--cpus", type=int, help="with --cluster auto: the local cluster gets this many of the "
                                                 "machine's CPUs (e.g. 1 worker on 1 core)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="inpaint-bench-") as tmp:
        folder = args.keep or Path(tmp)
        t0 = time.perf_counter()
        src, mask = make_folder(folder, args.count, args.megapixels)
        size_in = sum(p.stat().st_size for p in src.iterdir())
        with Image.open(next(src.iterdir())) as im:
            w, h = im.size
        print(f"generated {args.count} JPEGs of {w}x{h} ({size_in / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
        options = BatchOptions(src, output_dir=folder / "out", mask=mask, cluster=args.cluster, workers=args.workers)
        if args.cluster:
            summary, steady = run_on_cluster(options, args)
        else:
            from model.inference import Inpainter
            inp = Inpainter(args.weights, args.device, texture=args.texture == "on")
            print(f"device {describe(inp.device)}, torch threads {torch.get_num_threads()}, decode / write threads "
                  f"{io_threads()} each, texture {args.texture}")
            summary, steady = run_batch(options, inp), None
        assert summary.done == args.count and not summary.failed, summary.failed
        out_size = sum(p.stat().st_size for p in (folder / "out").glob("*.jpg"))
        done = [r for r in summary.records if r.status == "done"]
        stages = {name: sum(getattr(r, f"{name}_s") for r in done) for name in ("decode", "model", "encode")}
        total = sum(stages.values())
        print(f"{summary.done} photos in {summary.seconds:.1f} s: {summary.done / summary.seconds:.2f} photos/s "
              f"({summary.seconds / summary.done:.2f} s per photo, wall)")
        if steady is not None:
            print(steady)
        print("time per photo by stage (threads overlap): " + ", ".join(
            f"{k} {v / len(done):.2f} s ({100 * v / total:.0f} %)" for k, v in stages.items()))
        print(f"decode + encode share: {100 * (stages['decode'] + stages['encode']) / total:.0f} %, "
              f"model share: {100 * stages['model'] / total:.0f} %")
        print(f"output size {out_size / 1e6:.0f} MB for {size_in / 1e6:.0f} MB of input "
              f"({out_size / size_in:.2f}x)")


def run_on_cluster(options: BatchOptions, args: argparse.Namespace):
    """``run_cluster_batch``; returns the summary and a line with the rate
    once every worker had loaded its model (the whole run's rate includes that start)."""
    from model.jobs.cluster import run_cluster_batch

    if args.cpus:
        import ray

        from model.jobs.cluster import LOCAL_NODE_IP
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 _node_ip_address=LOCAL_NODE_IP)  # loopback only
    ready: list[float] = []  # when each worker was ready
    finished: list[float] = []  # when each photo was written

    def note(message: str) -> None:
        print(message)
        if message.startswith("worker ready"):
            ready.append(time.perf_counter())

    summary = run_cluster_batch(options, args.weights, args.device, args.texture == "on", note=note,
                                progress=lambda p: finished.append(time.perf_counter()))
    if not ready:
        return summary, "no worker was ready"
    after = [t for t in finished if t > ready[-1]]
    if len(after) < 2:
        return summary, f"too few photos after the last worker was ready ({len(after)}) for a steady rate"
    rate = (len(after) - 1) / (after[-1] - after[0])
    return summary, (f"with all {len(ready)} workers ready: {rate:.2f} photos/s "
                     f"({len(after)} photos finished after the last worker was ready)")


if __name__ == "__main__":
    main()
