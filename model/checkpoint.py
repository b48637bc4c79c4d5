"""Self-describing checkpoints: the config travels with the weights, so a file
rebuilds its own network. Written atomically (temp file + rename)."""
from __future__ import annotations

import os
import pickle
import stat
import warnings
from pathlib import Path
from typing import Any

import torch

from .netconfig import ConfigError
from .network import InpaintNet, NetConfig
from .photos.atomic import atomic_target

FORMAT = "region-inpaint/1"
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's zip format


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save through ``photos.atomic.atomic_target`` (temp file, fsync,
    rename): a kill at any moment leaves either the old file or the new one."""
    with atomic_target(path) as tmp:
        torch.save(obj, tmp)


def save_weights(net: InpaintNet, path: str | os.PathLike, **meta: Any) -> None:
    """Weights-only checkpoint (what the app loads)."""
    atomic_save({"format": FORMAT, "config": net.cfg.to_dict(),
                 "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                 "meta": meta}, path)


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message is one line naming the
    file and what is wrong (never torch's advice to load it unsafely)."""


def load_tensors(path: str | os.PathLike, what: str = "checkpoint of this app") -> Any:
    """``torch.load(path, weights_only=True)`` with every failure turned into
    one ``CheckpointError`` line: the file, and whether it is missing, empty,
    truncated, not a checkpoint at all, or holds pickled code (refused, never
    run). The only place the project calls ``torch.load``."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise CheckpointError(f"{path}: is a folder, not a weights file")
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise CheckpointError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: weights file not found") from None
    except OSError as exc:  # permission denied, a symlink loop...
        raise CheckpointError(f"{path}: cannot read the weights file ({exc.strerror or exc})") from None
    size = st.st_size
    if size == 0:
        raise CheckpointError(f"{path}: empty file, not a {what}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols: not the user's concern
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "unsupported global" in str(exc).lower():  # a pickled class or function: refused
            raise CheckpointError(f"{path}: contains code objects and was refused (pickled Python objects "
                                  f"other than tensors; nothing in it was run); not a {what}") from None
        raise CheckpointError(f"{path}: damaged, not a {what}") from None
    except EOFError:
        raise CheckpointError(f"{path}: truncated (the file ends early); not a usable {what}") from None
    except Exception:  # RuntimeError from the zip reader, KeyError/ValueError from the unpickler...
        if head == ZIP_MAGIC:
            raise CheckpointError(f"{path}: truncated or damaged (the archive is incomplete); "
                                  f"not a usable {what}") from None
        raise CheckpointError(f"{path}: not a {what}") from None


def read_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    ckpt = load_tensors(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "config" not in ckpt or "model" not in ckpt:
        raise CheckpointError(f"{path}: not a checkpoint of this app (no {FORMAT} network description)")
    return ckpt


def load_state(module: torch.nn.Module, state: dict, path: str | os.PathLike, plan: str = "") -> None:
    """``module.load_state_dict(state)``; a mismatch is one line naming the file
    instead of torch's list of every tensor."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError):
        extra = f" ({plan})" if plan else ""
        raise CheckpointError(f"{path}: made for another network plan{extra}; its tensors do not fit "
                              "this network") from None


def load_network(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[InpaintNet, dict]:
    """Rebuild the network a checkpoint describes; returns (net in eval mode, checkpoint dict)."""
    ckpt = read_checkpoint(path)
    cfg = read_config(ckpt, path)
    try:
        net = InpaintNet(cfg)
    except Exception:  # a network description this version cannot build
        raise CheckpointError(f"{path}: made for another network plan (its description cannot be built)") from None
    check_finite(ckpt["model"], path)
    load_state(net, ckpt["model"], path, f"the file describes plan {cfg.name!r}")
    return net.to(device).eval(), ckpt


def read_config(ckpt: dict, path: str | os.PathLike) -> NetConfig:
    """The checked network description of a checkpoint (one line naming the
    file and the bad value otherwise)."""
    try:
        return NetConfig.from_dict(ckpt["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{path}: bad network description: {exc}") from None
    except Exception:  # unknown fields' types, e.g. a number where a list belongs
        raise CheckpointError(f"{path}: made for another network plan (its description cannot be built)") from None


def check_finite(state: Any, path: str | os.PathLike) -> None:
    """Refuse weights that hold NaN or infinity (they would fill every hole with garbage)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a checkpoint of this app (its weights are not a table of tensors)")
    for name, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: damaged weights ({name} holds NaN or infinite values)")
