"""What a training run is built from, read off its options: the photos, the
number of steps, the network, the losses, the optimisers and the critic.

Only construction lives here; ``trainer.Trainer`` calls these in a fixed
order, which matters: the network, the VGG and the critic draw their initial
weights from torch's generator, seeded once before the network."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import torch

from ..checkpoint import load_network
from ..losses import BUNDLED_VGG, InpaintLoss, LossWeights, VGGFeatures
from ..network import InpaintNet, get_config
from ..paths import resolve_weights
from .data import scan_photos, split_validation
from .options import TrainError, TrainOptionError, TrainOptions


def find_photos(opts: TrainOptions, run_dir: Path) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """(training photos, validation photos, (path, why) of the unreadable ones):
    the validation photos are --val's, or a fixed part of the data folder."""
    scan = scan_photos(opts.data_dir, exclude=run_dir)
    skipped = [(str(p), why) for p, why in scan.skipped]
    if not scan.usable:
        detail = f" ({len(scan.skipped)} unreadable)" if scan.skipped else ""
        raise TrainError(f"{opts.data_dir}: no usable photos found{detail}")
    if opts.val_dir is not None:
        val_scan = scan_photos(opts.val_dir)
        if not val_scan.usable:
            raise TrainError(f"{opts.val_dir}: no usable validation photos")
        return scan.usable, val_scan.usable, skipped
    train_photos, val_photos = split_validation(scan.usable, opts.val_fraction)
    return train_photos, val_photos, skipped


def total_steps(opts: TrainOptions, n_photos: int) -> int:
    if opts.epochs is not None:
        return max(1, math.ceil(opts.epochs * n_photos / opts.batch_size))
    if not opts.steps or opts.steps < 1:
        raise TrainOptionError("give {steps} N (N >= 1) or {epochs} N")
    return opts.steps


def build_network(opts: TrainOptions, device: torch.device) -> tuple[InpaintNet, str]:
    """From scratch (config plan) or from init weights (their own plan);
    the config records the training size so inference runs at it. Returns
    the network and where it came from (for the checkpoints' meta)."""
    if opts.scratch:
        cfg = get_config(opts.config, run_size=opts.size)
        return InpaintNet(cfg).to(device), f"scratch ({cfg.name})"
    path = resolve_weights(opts.init)
    net, _ = load_network(path, device)
    net.cfg = replace(net.cfg, run_size=opts.size)
    return net.train(), str(path)


def build_losses(opts: TrainOptions, device: torch.device) -> tuple[InpaintLoss, InpaintLoss]:
    """(the run's loss, the plain-L1 loss of the first --l1-only-steps); the
    VGG is loaded only when a loss uses it."""
    vgg = None
    if opts.lambda_corr > 0 or opts.lambda_style > 0 or opts.lambda_perceptual > 0:
        vgg = VGGFeatures(opts.vgg_weights or BUNDLED_VGG).to(device)
        vgg = vgg.to(memory_format=torch.channels_last)
    loss = InpaintLoss(vgg, LossWeights(opts.lambda_corr, opts.lambda_style, opts.l1_region,
                                        opts.lambda_refine_l1, opts.lambda_perceptual))
    l1_loss = InpaintLoss(None, LossWeights(0.0, 0.0, opts.l1_region, opts.lambda_refine_l1))
    return loss, l1_loss


def build_optimisers(net: InpaintNet, opts: TrainOptions, device: torch.device
                     ) -> tuple[torch.optim.Adam, torch.nn.Module | None, torch.optim.Adam | None]:
    """(the network's Adam, the critic, the critic's Adam); no critic without
    --adversarial. With --stages refine, stage 1 is frozen first, so Adam
    sees only stage 2's parameters."""
    if opts.stages == "refine":  # stage 1 stays as it is: coarse results do not change
        for module in (net.e1, net.g):
            module.requires_grad_(False)
    trainable = [p for p in net.parameters() if p.requires_grad]
    # one fused kernel instead of a few per parameter tensor: matters where kernel launches are the cost (CUDA)
    fused = opts.fused_adam == "on" or (opts.fused_adam == "auto" and device.type == "cuda")
    optimizer = torch.optim.Adam(trainable, lr=opts.lr, betas=tuple(opts.betas), fused=fused or None)
    critic = critic_opt = None
    if opts.adversarial:
        from ..adversarial import PatchDiscriminator
        critic = PatchDiscriminator().to(device)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=opts.lr_critic or opts.lr, betas=tuple(opts.betas),
                                      fused=fused or None)
    return optimizer, critic, critic_opt
