"""Training throughput at 256² for both configs on the current device.

    python -m benchmarks.train_throughput [--device auto] [--batch-size 8] [--steps 5] [--size 256]

Prints samples/s for a full training step (both stages, the paper's three
losses, Adam), the network's forward FLOPs per sample (torch.utils.flop_counter),
an estimate of the whole step's FLOPs (network forward + backward ≈ 3x forward,
plus the VGG16 loss passes) and the achieved FLOP/s, to compare with the
device's peak.
"""
from __future__ import annotations

import argparse
import time

import torch

from model.devices import autocast, cpu_has_bf16, describe, resolve_device
from model.losses import InpaintLoss, VGGFeatures
from model.network import CONFIGS, InpaintNet, count_flops


def vgg_flops(size: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    vgg = VGGFeatures()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        vgg(torch.zeros(1, 3, size, size))
    return counter.get_total_flops()


def measure(name: str, device: torch.device, batch: int, size: int, steps: int, compile: bool) -> dict:
    torch.manual_seed(0)
    cfg = CONFIGS[name]
    net = InpaintNet(cfg).to(device)
    # the trainer's settings: channels_last everywhere, bf16 where the device has it
    net = net.to(memory_format=torch.channels_last)
    vgg = VGGFeatures().to(device).to(memory_format=torch.channels_last)
    amp = device.type != "cpu" or cpu_has_bf16()
    forward = torch.compile(net) if compile else net
    loss_fn = InpaintLoss(vgg)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.5, 0.9))
    truth = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    known = (torch.rand(batch, 1, size, size, device=device) > 0.25).float()
    truth = truth.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with autocast(device, amp, cpu=True):
            out = forward(truth, known, truth)
            total, _ = loss_fn(out, truth)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()

    for _ in range(2):  # warm-up (and compilation)
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    samples_per_s = steps * batch / seconds
    f_net = count_flops(cfg, size)
    # network fwd+bwd ≈ 3x forward; VGG: truth (fwd) + two composites (fwd + input-grad bwd ≈ 2x)
    f_step = 3 * f_net + vgg_flops(size) * (1 + 2 * 2)
    return {"config": name, "samples_per_s": samples_per_s, "net_gflop_fwd": f_net / 1e9,
            "step_gflop_per_sample": f_step / 1e9, "achieved_tflops": samples_per_s * f_step / 1e12}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--configs", default="default,paper")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    bf16 = device.type != "cpu" or cpu_has_bf16()
    print(f"device: {describe(device)}{' (bf16 autocast)' if bf16 else ' (fp32)'}, threads: {torch.get_num_threads()}, batch {args.batch_size} "
          f"at {args.size}², {args.steps} timed steps")
    print(f"{'config':8} {'samples/s':>10} {'net GFLOP fwd':>14} {'step GFLOP/sample':>18} {'achieved TFLOP/s':>17}")
    for name in args.configs.split(","):
        r = measure(name, device, args.batch_size, args.size, args.steps, args.compile)
        print(f"{r['config']:8} {r['samples_per_s']:10.2f} {r['net_gflop_fwd']:14.1f} "
              f"{r['step_gflop_per_sample']:18.1f} {r['achieved_tflops']:17.3f}")


if __name__ == "__main__":
    main()
