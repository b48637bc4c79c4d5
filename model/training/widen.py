"""A wider network that computes exactly what a trained one does (``--widen``).

Every layer keeps the trained filters in its first channels and gains new
ones (freshly initialised). The trained channels get zero weights from the
new input channels, and the output layers read only trained channels, so the
wider network's output equals the old one's; training then gives the new
channels a use (their outgoing weights get gradients at once). This lets a
larger model start from the bundled weights instead of from scratch.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from ..network import InpaintNet, NetConfig


def wider_config(cfg: NetConfig, factor: float) -> NetConfig:
    """``cfg`` with its widths times ``factor`` (rounded up to even numbers:
    the last decoder layer has half the full-resolution width)."""
    if factor < 1:
        raise ValueError(f"the widening factor must be at least 1, not {factor}")

    def grow(n: int) -> int:
        return max(n, 2 * round(n * factor / 2))

    name = cfg.name if factor == 1 else f"{cfg.name}-x{factor:g}"
    return replace(cfg, name=name, width=grow(cfg.width), half_res_width=grow(cfg.half_res_width),
                   full_res_width=grow(cfg.full_res_width))


def _input_channels(name: str, old: NetConfig, new: NetConfig, n_in: int) -> torch.Tensor:
    """Where a layer's trained input channels sit in the wider layer's input.
    Two decoder layers read a concatenation [upsampled, skip link]: the skip
    link's channels move up by the growth of the first part."""
    if name.startswith(("g.", "d.")):
        if ".at_half.0." in name:  # cat([4c at 1/4 upsampled, 2c skip])
            return torch.cat([torch.arange(4 * old.width), 4 * new.width + torch.arange(2 * old.width)])
        if ".at_full.0." in name:  # cat([half-resolution width upsampled, c skip])
            return torch.cat([torch.arange(old.half_res_width), new.half_res_width + torch.arange(old.width)])
    return torch.arange(n_in)


def widen_network(net: InpaintNet, factor: float) -> InpaintNet:
    """A new, wider ``InpaintNet`` (on ``net``'s device) whose output equals ``net``'s."""
    old_cfg = net.cfg
    new_cfg = wider_config(old_cfg, factor)
    device = next(net.parameters()).device
    wide = InpaintNet(new_cfg).to(device)
    old_state = net.state_dict()
    state = wide.state_dict()
    with torch.no_grad():
        for key, old in old_state.items():
            new = state[key]
            n_out = old.shape[0]
            if key.endswith(".weight"):
                cols = _input_channels(key, old_cfg, new_cfg, old.shape[1]).to(device)
                new[:n_out] = 0  # trained channels ignore the new ones ...
                new[:n_out, cols] = old  # ... and keep their own filters
            else:
                new[:n_out] = old
    wide.load_state_dict(state)
    return wide.train(net.training)
