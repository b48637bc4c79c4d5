"""The options of a training run: the one place their defaults live.

``TrainOptions`` is what ``train()`` takes from Python (the GUI's fine-tune
dialog) and what ``python main.py train`` builds: the command line's flags are
generated from these fields (``model/option.py``, ``model/cli/options.py``),
with the help text, flag name and choices kept in each field's metadata; the
GUI reads the defaults with ``model.option.default_of(TrainOptions, name)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from ..netconfig import CONFIGS, parse_scales
from ..option import OptionError, option
from ..netconfig import PREFILLS


def hole_area_range(text: str) -> tuple[float, float]:
    """'0-40' (per cent) -> (0.0, 0.4)."""
    from ..masks import area_bins  # here: model.masks loads OpenCV, and --help should not wait for it

    return area_bins(text)[0]


def float_pair(text: str) -> tuple[float, float]:
    """'0.5,0.9' -> (0.5, 0.9)."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"give two numbers separated by a comma, not {text!r}")
    a, b = (float(p) for p in parts)
    return a, b


@dataclass
class TrainOptions:
    data_dir: Path = field(metadata={"help": "folder of photos (searched recursively)", "positional": True})
    out_dir: Path = option(Path("runs/latest"), "run folder", flag=("--out",))
    steps: int | None = option(2000, "optimiser steps (ignored when --epochs is given)", group="length")
    epochs: float | None = option(None, "passes over the photos (one crop each)", group="length", parse=float)
    batch_size: int = option(8, "photos per optimiser step")
    size: int = option(256, "training crop size (recorded as the weights' run_size)")
    lr: float = option(1e-4, "learning rate")
    betas: tuple[float, float] = option((0.5, 0.9), "Adam betas", parse=float_pair, shown="0.5,0.9")
    device: str = option("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    config: str = option("default", "network plan for --scratch", choices=tuple(CONFIGS))
    init: Path | None = option(None, "start weights (default: the bundled model)", group="start", parse=Path)
    scratch: bool = option(False, "start from random weights", group="start")
    vgg_weights: Path | None = option(None, "torchvision ImageNet VGG16 state dict for the losses "
                                            "(default: the bundled VGG16)", parse=Path)
    # The recipe (lr above, these two weights, the schedule below) is the one
    # that measured best here, plain L1 decaying on a cosine (README,
    # "Training the bundled model"); the paper's λ1 1e-5, λ2 1e-3 lost 0.2 dB.
    lambda_corr: float = option(0.0, "λ1, correlation loss weight (the paper: 1e-5)")
    lambda_style: float = option(0.0, "λ2, style loss weight (the paper: 1e-3)")
    l1_only_steps: int = option(0, "plain L1 for the first N steps (a curriculum)")
    l1_region: str = option("image", "L1 over the whole image (the paper) or over the hole only, per photo",
                            flag=("--l1",), choices=("image", "hole"))
    lr_schedule: str = option("cosine", "cosine: decay the lr to --lr-min by the last step",
                              choices=("constant", "cosine"))
    lr_min: float = option(1e-6, "the cosine schedule's final lr")
    stages: str = option("both", "refine: train stage 2 only (E2 + D), stage 1 frozen", choices=("both", "refine"))
    hole_area: tuple[float, float] = option((0.0, 0.4), "hole area range in %", parse=hole_area_range, shown="0-40")
    val_dir: Path | None = option(None, "held-out validation photos (default: a fixed part of DATA_DIR)",
                                  flag=("--val",), parse=Path)
    val_fraction: float = option(0.1, "the part of DATA_DIR held out for validation without --val")
    log_every: int = option(10, "steps between log lines")
    val_every: int = option(200, "steps between validations")
    checkpoint_every: int = option(100, "steps between saves of last.pt")
    workers: int = option(-1, "DataLoader workers; -1: a sensible number for the device")
    seed: int = option(0, "seed of the crops, masks and a scratch network")
    amp: str = option("auto", "bf16 autocast on CUDA and bf16-capable CPUs (auto) or fp32 (off)",
                      choices=("auto", "off"))
    compile: bool = option(False, "torch.compile the network (GPU)")
    # Throughput (issue #20): where the batches are made and how a step runs.
    # "auto" picks what measured fastest on each device (README, "Training").
    pipeline: str = option("auto", "where crops, masks and the prefill are made: device (photos cached on the "
                                   "device, a zero or harmonic prefill), loader (CPU DataLoader, any prefill); "
                                   "auto: device on a GPU when the prefill allows it, else loader",
                           choices=("auto", "device", "loader"))
    prefill: str | None = option(None, "what the hole holds on input, recorded with the weights: zero, telea "
                                       "(CPU only) or harmonic (default: the plan's or init weights')",
                                 choices=PREFILLS, parse=str)
    widen: float | None = option(None, "grow the start network's channels by this factor (e.g. 1.5); the new "
                                       "channels start without effect, so it computes what it did", parse=float)
    memory_format: str = option("channels_last", "the network's memory layout (channels_last: oneDNN on CPU, "
                                                 "tensor cores on GPU)", choices=("channels_last", "contiguous"))
    fused_adam: str = option("auto", "Adam as one fused kernel: auto = on CUDA", choices=("auto", "on", "off"))
    adversarial: bool = option(False, "add the optional SN-PatchGAN fine stage (the official code's GAN)")
    lambda_adv: float = option(0.01, "weight of the adversarial (hinge) term")
    lr_critic: float | None = option(None, "the critic's learning rate (default: --lr)", parse=float)
    # Stage-2 texture training (issue #10): the stage-2 L1's own weight (stage
    # 1's stays 1) and a perceptual (VGG feature L1) loss on the stage-2 composite.
    lambda_refine_l1: float = option(1.0, "weight of the stage-2 L1 (stage 1's is 1); lower lets stage 2 "
                                          "add texture")
    lambda_perceptual: float = option(0.0, "perceptual loss (VGG pool1-3 feature L1) on the stage-2 composite")
    # A texture model trades a little PSNR by design, hence "last".
    select: str = option("psnr", "best.pt: the best validation PSNR or the newest validated step",
                         choices=("psnr", "last"))
    run_scales: tuple[float, ...] | None = option(
        None, "inference scales stored with the weights and used by validation, e.g. 1 or 1,0.5,0.25 "
              "(default: the init weights')", parse=parse_scales)
    resume: bool = option(False, "continue from RUN_DIR/last.pt")
    time_limit: float | None = option(None, "minutes: stop after this much time in the loop (validated and "
                                            "saved, resumable), e.g. to fit a GPU slot", parse=float)

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


class TrainError(ValueError):
    """A problem with the options or the data, with a message for the user.
    (Defined here, beside the options, so every part of the trainer can raise
    it; ``model.training.trainer`` re-exports it.)"""


class TrainOptionError(OptionError, TrainError):
    """A TrainError that names options by field (``{resume}``): the command
    line says ``--resume``, the app its own control (model/option.py)."""


def check_choices(opts: TrainOptions, *names: str) -> None:
    """TrainOptionError for the first of ``names`` whose value is not one of
    its field's choices (the GUI and Python callers bypass argparse's; a
    field whose default is None may also be None)."""
    by_name = {f.name: f for f in fields(opts)}
    for f in (by_name[name] for name in names):
        words = tuple(f.metadata["choices"])
        value = getattr(opts, f.name)
        if value not in words and not (value is None and f.default is None):
            raise TrainOptionError("{" + f.name + "} must be {words}, not {got!r}",
                                   words=f"{', '.join(words[:-1])} or {words[-1]}", got=value)
