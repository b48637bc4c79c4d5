"""The parts of one optimisation step that are not the network's own
forward and backward: the learning-rate schedule and the critic's update."""
from __future__ import annotations

import math

import torch

from .options import TrainOptions


def learning_rate(opts: TrainOptions, total: int, step: int) -> float:
    """The lr of optimiser step ``step`` (0-based) of ``total`` under the schedule."""
    if opts.lr_schedule == "constant":
        return opts.lr
    progress = min(step / max(total - 1, 1), 1.0)
    low = min(opts.lr_min, opts.lr)
    return low + 0.5 * (opts.lr - low) * (1 + math.cos(math.pi * progress))


def adversarial_term(critic: torch.nn.Module, critic_opt: torch.optim.Optimizer, fake: torch.Tensor,
                     truth: torch.Tensor, known: torch.Tensor, parts: dict, weight: float) -> torch.Tensor:
    """Update the critic on (truth, composite); return the generator's term
    (``weight`` times its loss) and record both losses in ``parts``."""
    from ..adversarial import critic_loss, generator_loss

    d_loss = critic_loss(critic(truth, known), critic(fake.detach(), known))
    critic_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    critic_opt.step()
    g_loss = generator_loss(critic(fake, known))
    parts["critic"], parts["adversarial"] = d_loss.detach(), g_loss.detach()
    return weight * g_loss
