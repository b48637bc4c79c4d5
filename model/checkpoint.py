"""Self-describing checkpoints: the config travels with the weights, so a file
rebuilds its own network. Written atomically (temp file + rename)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .network import InpaintNet, NetConfig

FORMAT = "region-inpaint/1"


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename: a
    kill at any moment leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_weights(net: InpaintNet, path: str | os.PathLike, **meta: Any) -> None:
    """Weights-only checkpoint (what the app loads)."""
    atomic_save({"format": FORMAT, "config": net.cfg.to_dict(),
                 "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                 "meta": meta}, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a torch file
        raise ValueError(f"{path}: not a readable checkpoint ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "config" not in ckpt:
        raise ValueError(f"{path}: not a {FORMAT} checkpoint")
    return ckpt


def load_network(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[InpaintNet, dict]:
    """Rebuild the network a checkpoint describes; returns (net in eval mode, checkpoint dict)."""
    ckpt = read_checkpoint(path)
    net = InpaintNet(NetConfig.from_dict(ckpt["config"]))
    net.load_state_dict(ckpt["model"])
    return net.to(device).eval(), ckpt
