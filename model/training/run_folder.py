"""The files of a run folder other than the weights themselves: the checks on
where it is, the temp files a killed run leaves, reading ``last.pt`` for
``--resume``, the RNG state a checkpoint carries, and ``log.jsonl``.

The trainer (``trainer.py``) decides when each is written; this module only
knows how."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from ..checkpoint import CheckpointError, check_finite, read_checkpoint, read_config
from ..paths import path_relation
from ..photos.atomic import TEMP_SUFFIX, atomic_target
from .options import TrainError, TrainOptionError, TrainOptions


def check_run_folder(opts: TrainOptions) -> None:
    """The run folder is written to; the photo folders are only read: refuse
    a run folder that is, contains or lies inside one of them."""
    for name, folder in (("data folder", opts.data_dir), ("validation folder", opts.val_dir)):
        if folder is not None and path_relation(opts.out_dir, folder) is not None:
            raise TrainError(f"the run folder {opts.out_dir} overlaps the {name} {folder} (it is the same "
                             "folder, inside it or contains it); choose a separate run folder "
                             "(the photos are never written to)")


# The temp files of last.pt, best.pt and the log's rewrite on resume
# (photos.atomic: .last.pt.xxxxxxxx.inpaint-tmp), left behind only by a kill;
# and the names older versions used (.last.pt.<mkstemp>.tmp, .log.jsonl.<pid>.tmp).
_CHECKPOINT_TEMP = re.compile(r"^\.(last\.pt|best\.pt|log\.jsonl)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$"
                              r"|^\.((last|best)\.pt\.[A-Za-z0-9_]{8}|log\.jsonl\.\d+)\.tmp$")


def remove_stale_checkpoint_temps(run_dir: Path) -> list[Path]:
    """Delete the temp files a killed run left in ``run_dir`` (only there,
    not in subfolders; only files named like the temps of last.pt / best.pt or
    the log's). Returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(run_dir))
    except OSError:
        return removed
    for entry in entries:
        if _CHECKPOINT_TEMP.match(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def read_last(run_dir: Path) -> dict:
    """RUN_DIR/last.pt to resume from, checked; TrainError (one line) if it
    is missing, truncated, not a checkpoint or not a training checkpoint."""
    path = run_dir / "last.pt"
    if not path.is_file():
        raise TrainOptionError("{resume}: {path} does not exist (nothing to resume; start without {resume})",
                               path=path)
    try:
        ckpt = read_checkpoint(path)
    except CheckpointError as exc:
        raise TrainOptionError("{resume}: {problem}", problem=str(exc)) from None
    missing = [k for k in ("optimizer", "step", "rng") if k not in ckpt]
    if missing:
        raise TrainOptionError("{resume}: {path} is not a training checkpoint (no {missing}); it cannot be resumed",
                               path=path, missing=", ".join(missing))
    problem = _state_problem(ckpt)
    if problem:
        raise TrainOptionError("{resume}: {path} is damaged ({problem}); it cannot be resumed", path=path,
                               problem=problem)
    try:
        read_config(ckpt, path)
        check_finite(ckpt["model"], path)
    except CheckpointError as exc:
        raise TrainOptionError("{resume}: {problem}", problem=str(exc)) from None
    return ckpt


def _is_byte_state(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1 and value.numel() > 0


def _state_problem(ckpt: dict) -> str | None:
    """What is wrong with a training checkpoint's step, best PSNR or RNG state, in words."""
    step = ckpt["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return f"its step is {step!r}, not a whole number"
    best = ckpt.get("best_psnr")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
        return f"its best PSNR is {best!r}, not a number"
    rng = ckpt["rng"]
    if not isinstance(rng, dict) or not _is_byte_state(rng.get("torch")):
        return "its random-generator state is not a byte tensor"
    cuda = rng.get("cuda", [])
    if not isinstance(cuda, (list, tuple)) or not all(_is_byte_state(v) for v in cuda):
        return "its CUDA random-generator state is not a list of byte tensors"
    return None


def rng_state() -> dict:
    """torch's generators (CPU, and CUDA where there is one), for last.pt:
    a resumed run draws the same crops, masks and dropout as an unbroken one."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RunLog:
    """RUN_DIR/log.jsonl: one JSON record a line (losses, or validation figures), each with its step."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "log.jsonl"

    def append(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def reset(self) -> None:
        """A fresh run starts a fresh curve."""
        self.path.unlink(missing_ok=True)

    def truncate(self, step: int) -> None:
        """Drop lines written after ``step`` (the resumed checkpoint's), so the curve stays one curve."""
        if not self.path.is_file():
            return
        keep = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a power cut or a full disk: dropped
            if isinstance(record, dict) and record.get("step", 0) <= step:
                keep.append(line)
        with atomic_target(self.path) as tmp:
            tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
