"""End-to-end time of one removal (Inpainter call) per photo size.

    python -m benchmarks.inference_speed [--device cpu] [--sizes 512,1024,4000x3000,4000x3000:line,3000x2000:specks] [--repeat 5] [--texture on|off] [--search auto|torch|pypatchmatch]

Each case: a photo-like image with a 20-30 % irregular mask; a photo of over
4 MP gets two object-sized holes instead (ellipses of about 400 x 300 and
300 x 450 px, the typical "remove two things from a 12 MP photo" edit); a
size ending in ":line" gets a 15 px line from edge to edge, diagonally (a
power line or a cable); ":specks" a 3 x 3 px speck every 8 px (dust: on
3000x2000, 93,750 specks). ``--search`` picks the texture step's patch
search (``TextureOptions.search``). Reports the median time of the whole
Inpainter call.
"""
from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
import torch

from model.devices import describe
from model.inference import Inpainter
from model.masks import random_mask
from model.texture import SEARCHES, TextureOptions


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([127 + 90 * np.sin(x / w * (3 + c) + c) * np.cos(y / h * (2 + c)) for c in range(3)], 2)
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights")
    parser.add_argument("--sizes", default="512,1024,4000x3000,4000x3000:line")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--texture", choices=("on", "off"), default="on")
    parser.add_argument("--search", choices=SEARCHES, default="auto")
    args = parser.parse_args()
    inp = Inpainter(args.weights, args.device, texture=args.texture == "on",
                    texture_options=TextureOptions(search=args.search))
    print(f"device {describe(inp.device)}, threads {torch.get_num_threads()}, weights {inp.weights_path} "
          f"({inp.cfg.name}, runs at {inp.cfg.run_size}px, scales {inp.scales}), texture {args.texture}, search {args.search}")
    for spec in args.sizes.split(","):
        size, _, kind = spec.partition(":")
        w, h = (int(v) for v in size.split("x")) if "x" in size else (int(size), int(size))
        image = photo(h, w)
        if kind == "specks":
            mask = np.zeros((h, w), np.uint8)
            for dy in range(3):
                for dx in range(3):
                    mask[2 + dy::8, 2 + dx::8] = 255
        elif kind == "line":
            mask = np.zeros((h, w), np.uint8)
            cv2.line(mask, (0, h // 5), (w - 1, h * 4 // 5), 255, 15)
        elif w * h > 4e6:
            y, x = np.ogrid[:h, :w]
            mask = (((x - w * 0.3) / 200) ** 2 + ((y - h * 0.4) / 150) ** 2 < 1) | \
                   (((x - w * 0.7) / 150) ** 2 + ((y - h * 0.65) / 225) ** 2 < 1)
        else:
            mask = random_mask(h, w, (0.2, 0.3), rng=0, kinds=("strokes", "blobs"))
        inp(image, mask)  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            inp(image, mask)
            times.append(time.perf_counter() - t0)
        print(f"{spec}: median {statistics.median(times):.3f} s over {args.repeat} runs "
              f"(min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
