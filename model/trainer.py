"""Fine-tune (or train) the inpainting network on a folder of photos.

``python main.py train DATA_DIR [--steps N] [--out RUN_DIR] ...`` or, from
Python (the GUI's fine-tune dialog), ``train(TrainOptions(...), progress=cb,
should_stop=cb)``. Writes RUN_DIR/last.pt (resumable: model, optimiser, step,
RNG state), RUN_DIR/best.pt (by validation PSNR, loadable by the app),
RUN_DIR/log.jsonl and RUN_DIR/previews/step_XXXXXXX.png.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from .checkpoint import (FORMAT, CheckpointError, atomic_save, load_network, load_state, read_checkpoint,
                         save_weights)
from .data import CropDataset, scan_photos, split_validation
from .devices import autocast, cpu_has_bf16, describe, resolve_device
from .inference import Inpainter
from .losses import BUNDLED_VGG, InpaintLoss, LossWeights, VGGFeatures
from .network import InpaintNet, NetConfig, get_config, parse_scales
from .paths import path_relation, resolve_weights


@dataclass
class TrainOptions:
    data_dir: Path
    out_dir: Path = Path("runs/latest")
    steps: int | None = 2000  # total optimiser steps (ignored when epochs is set)
    epochs: float | None = None  # passes over the training photos (one crop each)
    batch_size: int = 8
    size: int = 256
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    device: str = "auto"
    config: str = "default"  # network plan when starting from scratch
    init: Path | None = None  # start weights; default: the bundled model
    scratch: bool = False  # random initialisation instead of init weights
    vgg_weights: Path | None = None  # torchvision VGG16 state dict (ImageNet)
    lambda_corr: float = 1e-5  # λ1, correlation loss
    lambda_style: float = 1e-3  # λ2, style loss
    l1_only_steps: int = 0  # curriculum: plain L1 for the first N steps
    l1_region: str = "image"  # "image" (the paper) or "hole" (see LossWeights)
    lr_schedule: str = "constant"  # or "cosine": lr decays to lr_min at the last step
    lr_min: float = 1e-6
    stages: str = "both"  # "refine": train stage 2 only (E2 + D), stage 1 frozen
    hole_area: tuple[float, float] = (0.0, 0.4)
    val_dir: Path | None = None  # held-out photos; default: a fixed part of data_dir
    val_fraction: float = 0.1
    log_every: int = 10
    val_every: int = 200
    checkpoint_every: int = 100
    workers: int = -1  # DataLoader workers; -1: a sensible number for the device
    seed: int = 0
    amp: str = "auto"  # "auto": bf16 on CUDA and on bf16-capable CPUs; "off": fp32
    compile: bool = False  # torch.compile the network (GPU)
    adversarial: bool = False  # the official code's optional GAN fine stage
    lambda_adv: float = 0.01
    lr_critic: float | None = None  # the critic's lr; default: lr
    # Stage-2 texture training (issue #10): the stage-2 L1's own weight (stage
    # 1's stays 1) and a perceptual (VGG feature L1) loss on the stage-2 composite.
    lambda_refine_l1: float = 1.0
    lambda_perceptual: float = 0.0
    # Which weights best.pt holds: "psnr" (the best validation PSNR) or "last"
    # (the newest validated step; a texture model trades a little PSNR by design).
    select: str = "psnr"
    # Inference scales stored with the weights and used by validation
    # (None: keep the init weights'); (1.0,) for a single pass.
    run_scales: tuple[float, ...] | None = None
    resume: bool = False

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


@dataclass
class TrainProgress:
    step: int
    total: int
    losses: dict[str, float]
    val_psnr: float | None = None
    val_ssim: float | None = None
    preview_path: Path | None = None
    steps_per_s: float = 0.0
    eta_s: float = 0.0


@dataclass
class TrainResult:
    best_path: Path | None
    last_path: Path
    steps_done: int
    stopped: bool  # True when should_stop ended it early
    best_psnr: float | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


class TrainError(ValueError):
    """A problem with the options or the data, with a message for the user."""


def check_run_folder(opts: "TrainOptions") -> None:
    """The run folder is written to; the photo folders are only read: refuse
    a run folder that is, contains or lies inside one of them."""
    for name, folder in (("data folder", opts.data_dir), ("validation folder", opts.val_dir)):
        if folder is not None and path_relation(opts.out_dir, folder) is not None:
            raise TrainError(f"the run folder {opts.out_dir} overlaps the {name} {folder} (it is the same "
                             "folder, inside it or contains it); choose a separate run folder "
                             "(the photos are never written to)")


# atomic_save's temp names (.last.pt.<random>.tmp from mkstemp) and the log's
# rewrite on resume (.log.jsonl.<pid>.tmp): left behind only by a kill
_CHECKPOINT_TEMP = re.compile(r"^\.((last|best)\.pt\.[A-Za-z0-9_]{8}|log\.jsonl\.\d+)\.tmp$")


def remove_stale_checkpoint_temps(run_dir: Path) -> list[Path]:
    """Delete the temp files a killed run left in ``run_dir`` (only there,
    not in subfolders; only files named like atomic_save's temps of last.pt /
    best.pt or the log's). Returns what was removed."""
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


def _total_steps(opts: TrainOptions, n_photos: int) -> int:
    if opts.epochs is not None:
        return max(1, math.ceil(opts.epochs * n_photos / opts.batch_size))
    if not opts.steps or opts.steps < 1:
        raise TrainError("give --steps N (N >= 1) or --epochs N")
    return opts.steps


def _build_network(opts: TrainOptions, device: torch.device) -> tuple[InpaintNet, str]:
    """From scratch (config plan) or from init weights (their own plan);
    the config records the training size so inference runs at it."""
    if opts.scratch:
        cfg = get_config(opts.config, train_size=opts.size)
        return InpaintNet(cfg).to(device), f"scratch ({cfg.name})"
    path = resolve_weights(opts.init)
    net, _ = load_network(path, device)
    net.cfg = replace(net.cfg, train_size=opts.size)
    return net.train(), str(path)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """One training run; ``run()`` does the loop. Split into a class so tests
    and the GUI can inspect the pieces (dataset, network, options)."""

    def __init__(self, opts: TrainOptions):
        self.opts = opts
        self.out = Path(opts.out_dir)
        if opts.l1_region not in ("image", "hole"):
            raise TrainError(f"--l1 must be image or hole, not {opts.l1_region!r}")
        if opts.lr_schedule not in ("constant", "cosine"):
            raise TrainError(f"--lr-schedule must be constant or cosine, not {opts.lr_schedule!r}")
        if opts.stages not in ("both", "refine"):
            raise TrainError(f"--stages must be both or refine, not {opts.stages!r}")
        check_run_folder(opts)
        self._resume_ckpt = self._read_last() if opts.resume else None  # fail before the slow set-up
        self.device = resolve_device(opts.device)

        scan = scan_photos(opts.data_dir, exclude=self.out)
        self.skipped = [(str(p), why) for p, why in scan.skipped]
        if not scan.usable:
            detail = f" ({len(scan.skipped)} unreadable)" if scan.skipped else ""
            raise TrainError(f"{opts.data_dir}: no usable photos found{detail}")
        if opts.val_dir is not None:
            val_scan = scan_photos(opts.val_dir)
            if not val_scan.usable:
                raise TrainError(f"{opts.val_dir}: no usable validation photos")
            self.train_photos, self.val_photos = scan.usable, val_scan.usable
        else:
            self.train_photos, self.val_photos = split_validation(scan.usable, opts.val_fraction)
        self.total = _total_steps(opts, len(self.train_photos))

        torch.manual_seed(opts.seed)  # a scratch network starts the same every time
        self.net, self.init_source = _build_network(opts, self.device)
        if opts.select not in ("psnr", "last"):
            raise TrainError(f"--select must be psnr or last, not {opts.select!r}")
        if opts.run_scales is not None:
            self.net.cfg = replace(self.net.cfg, run_scales=tuple(opts.run_scales))
        # channels_last: ~2.5x faster convolutions on CPU (oneDNN) and tensor cores on GPU
        self.net = self.net.to(memory_format=torch.channels_last)
        if opts.amp not in ("auto", "off"):
            raise TrainError(f"--amp must be auto or off, not {opts.amp!r}")
        self.amp = opts.amp == "auto" and (self.device.type != "cpu" or cpu_has_bf16())
        self.cfg: NetConfig = self.net.cfg
        self.dataset = CropDataset(self.train_photos, opts.size, self.cfg.prefill, opts.hole_area, opts.seed)
        self.val_cases = self._validation_cases()

        vgg = None
        if opts.lambda_corr > 0 or opts.lambda_style > 0 or opts.lambda_perceptual > 0:
            vgg = VGGFeatures(opts.vgg_weights or BUNDLED_VGG).to(self.device)
            vgg = vgg.to(memory_format=torch.channels_last)
        self.loss = InpaintLoss(vgg, LossWeights(opts.lambda_corr, opts.lambda_style, opts.l1_region,
                                                 opts.lambda_refine_l1, opts.lambda_perceptual))
        self.l1_loss = InpaintLoss(None, LossWeights(0.0, 0.0, opts.l1_region, opts.lambda_refine_l1))
        if opts.stages == "refine":  # stage 1 stays as it is: coarse results do not change
            for module in (self.net.e1, self.net.g):
                module.requires_grad_(False)
        trainable = [p for p in self.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trainable, lr=opts.lr, betas=tuple(opts.betas))
        self.critic = self.critic_opt = None
        if opts.adversarial:
            from .adversarial import PatchDiscriminator
            self.critic = PatchDiscriminator().to(self.device)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=opts.lr_critic or opts.lr,
                                               betas=tuple(opts.betas))
        self.step = 0
        self._saved_step: int | None = None  # step of the newest last.pt
        self.best_psnr: float | None = None
        self.forward = torch.compile(self.net) if opts.compile else self.net

    def _validation_cases(self, per_bin: int = 4) -> list:
        """Fixed cases: centre crops of up to ``per_bin`` held-out photos, one
        seeded mask each in every 10-50 % hole-area bin (the eval's cases)."""
        from .evaluate import make_cases
        from .imageio import read_image

        photos = self.val_photos[:per_bin]
        return make_cases([(p.stem, read_image(p)) for p in photos], seed=1234, size=self.opts.size)

    # ------------------------------------------------------------ state
    def state(self) -> dict:
        return {"format": FORMAT, "config": self.cfg.to_dict(),
                "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "step": self.step,
                "best_psnr": self.best_psnr, "rng": _rng_state(), "options": self.opts.to_dict(),
                "meta": {"step": self.step, "init": self.init_source},
                **({"critic": self.critic.state_dict(), "critic_optimizer": self.critic_opt.state_dict()}
                   if self.critic is not None else {})}

    def save_last(self) -> Path:
        path = self.out / "last.pt"
        atomic_save(self.state(), path)
        self._saved_step = self.step
        return path

    def _read_last(self) -> dict:
        """RUN_DIR/last.pt for --resume, checked; TrainError (one line) if it
        is missing, truncated, not a checkpoint or not a training checkpoint."""
        path = self.out / "last.pt"
        if not path.is_file():
            raise TrainError(f"--resume: {path} does not exist (nothing to resume; start without --resume)")
        try:
            ckpt = read_checkpoint(path)
        except CheckpointError as exc:
            raise TrainError(f"--resume: {exc}") from None
        missing = [k for k in ("optimizer", "step", "rng") if k not in ckpt]
        if missing:
            raise TrainError(f"--resume: {path} is not a training checkpoint (no {', '.join(missing)}); "
                             "it cannot be resumed")
        return ckpt

    def load_last(self) -> None:
        path = self.out / "last.pt"
        ckpt, self._resume_ckpt = self._resume_ckpt or self._read_last(), None
        plan = (f"the run was started with plan {ckpt['config'].get('name')!r}, this run builds "
                f"{self.cfg.name!r}" if isinstance(ckpt.get("config"), dict) else "")
        try:
            load_state(self.net, ckpt["model"], path, plan)
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (CheckpointError, ValueError, KeyError, TypeError) as exc:
            detail = str(exc) if isinstance(exc, CheckpointError) else (
                f"{path}: its optimiser state does not fit this run (another --stages or --adversarial?)")
            raise TrainError(f"--resume: {detail}") from None
        for group in self.optimizer.param_groups:  # --lr on resume wins (a manual decay step)
            group["lr"] = self.opts.lr
        if self.critic is not None and "critic" in ckpt:
            self.critic.load_state_dict(ckpt["critic"])
            self.critic_opt.load_state_dict(ckpt["critic_optimizer"])
        self.step = int(ckpt["step"])
        self.best_psnr = ckpt.get("best_psnr")
        _set_rng_state(ckpt["rng"])
        self._truncate_log(self.step)

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint, so the curve stays one curve."""
        log = self.out / "log.jsonl"
        if log.is_file():
            keep = []
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a power cut or a full disk: dropped
                if isinstance(record, dict) and record.get("step", 0) <= step:
                    keep.append(line)
            tmp = log.with_name(f".{log.name}.{os.getpid()}.tmp")
            tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
            os.replace(tmp, log)

    def _log(self, record: dict) -> None:
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------- loop
    def _loader(self) -> DataLoader:
        workers = self.opts.workers
        if workers < 0:
            workers = 4 if self.device.type == "cuda" else 0
        start = self.step * self.opts.batch_size
        indices = range(start, self.total * self.opts.batch_size)
        return DataLoader(self.dataset, batch_size=self.opts.batch_size, sampler=indices,
                          num_workers=workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=False, prefetch_factor=4 if workers else None)

    def train_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        truth, known, prefill = (t.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                                 for t in batch)
        self.net.train()
        with autocast(self.device, self.amp, cpu=True):
            out = self.forward(truth, known, prefill)
            loss_fn = self.l1_loss if self.step < self.opts.l1_only_steps else self.loss
            total, parts = loss_fn(out, truth, known)
            if self.critic is not None:
                total = total + self._adversarial_step(out.refined_composite, truth, known, parts)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.step)
        self.optimizer.step()
        self.step += 1
        return parts

    def learning_rate(self, step: int) -> float:
        """The lr of optimiser step ``step`` (0-based) under the schedule."""
        if self.opts.lr_schedule == "constant":
            return self.opts.lr
        progress = min(step / max(self.total - 1, 1), 1.0)
        low = min(self.opts.lr_min, self.opts.lr)
        return low + 0.5 * (self.opts.lr - low) * (1 + math.cos(math.pi * progress))

    def _adversarial_step(self, fake: torch.Tensor, truth: torch.Tensor, known: torch.Tensor,
                          parts: dict) -> torch.Tensor:
        """Update the critic on (truth, composite); return the generator's term."""
        from .adversarial import critic_loss, generator_loss

        d_loss = critic_loss(self.critic(truth, known), self.critic(fake.detach(), known))
        self.critic_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.critic_opt.step()
        g_loss = generator_loss(self.critic(fake, known))
        parts["critic"], parts["adversarial"] = float(d_loss.detach()), float(g_loss.detach())
        return self.opts.lambda_adv * g_loss

    def validate(self) -> tuple[float, float, Path]:
        """Mean PSNR / SSIM of the refined result on the fixed validation
        cases (through the one inference path) and a preview sheet; also
        sets ``val_extra``, the measures logged beside them: the refined
        result's deep distance and sharpness ratio (hole gradient energy of
        the fill / of the truth, 1 = as detailed) and the coarse one's
        sharpness ratio."""
        from .evaluate import comparison_sheet, evaluate_cases

        self.net.eval()
        # The network alone: the texture step is not trained, and would only slow validation.
        results = evaluate_cases(Inpainter.from_network(self.net, texture=False), self.val_cases,
                                 keep_outputs=4)
        preview = self.out / "previews" / f"step_{self.step:07d}.png"
        comparison_sheet(self.val_cases, results["outputs"], preview,
                         columns=("input", "mask", "coarse", "refined", "truth"),
                         tile=self.opts.size, scores=results["cases"])
        self.net.train()
        table = results["table"]["all"]
        overall = table["refined"]
        # logged beside PSNR / SSIM (eval-only judges: the deep distance is never a loss)
        self.val_extra = {f"val_{k}": overall[k] for k in ("deep", "sharpness") if k in overall}
        self.val_extra["val_sharpness_coarse"] = table["coarse"]["sharpness"]
        return overall["psnr"], overall["ssim"], preview

    def run(self, progress: Callable[[TrainProgress], None] | None = None,
            should_stop: Callable[[], bool] | None = None, bar: bool = False) -> TrainResult:
        self.out.mkdir(parents=True, exist_ok=True)
        remove_stale_checkpoint_temps(self.out)
        if self.opts.resume:
            self.load_last()
        else:
            (self.out / "log.jsonl").unlink(missing_ok=True)
        (self.out / "options.json").write_text(json.dumps(self.opts.to_dict(), indent=2))
        if self.step == 0 and self.best_psnr is None:
            self._validate_and_keep(progress, {}, 0.0)

        tqdm_bar = None
        if bar:
            from tqdm import tqdm
            tqdm_bar = tqdm(total=self.total, initial=self.step, unit="step", dynamic_ncols=True, file=sys.stderr)
        stopped = False
        t0, s0 = time.perf_counter(), self.step
        try:
            for batch in self._loader():
                parts = self.train_step(batch)
                rate = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
                eta = (self.total - self.step) / max(rate, 1e-9)
                if tqdm_bar is not None:
                    tqdm_bar.update(1)
                    tqdm_bar.set_postfix(loss=f"{parts['total']:.4f}", l1=f"{parts['l1']:.4f}")
                if self.step % self.opts.log_every == 0 or self.step == self.total:
                    self._log({"step": self.step, **parts, "time": time.time()})
                val = None
                if self.step % self.opts.val_every == 0 or self.step == self.total:
                    val = self._validate_and_keep(progress, parts, rate, eta)
                if self.step % self.opts.checkpoint_every == 0:
                    self.save_last()
                if progress is not None and val is None:
                    progress(TrainProgress(self.step, self.total, parts, steps_per_s=rate, eta_s=eta))
                if should_stop is not None and should_stop():
                    stopped = self.step < self.total
                    if stopped and val is None:  # judge the weights as they are when stopped
                        self._validate_and_keep(progress, parts, rate)
                    break
                if self.step >= self.total:
                    break
        finally:
            if tqdm_bar is not None:
                tqdm_bar.close()
            if self._saved_step != self.step:  # the end, a stop or an error: keep what was done
                self.save_last()
        best = self.out / "best.pt"
        return TrainResult(best if best.is_file() else None, self.out / "last.pt", self.step, stopped,
                           self.best_psnr, self.skipped)

    def _validate_and_keep(self, progress, parts: dict, rate: float, eta: float = 0.0) -> TrainProgress:
        val_psnr, val_ssim, preview = self.validate()
        self._log({"step": self.step, "val_psnr": val_psnr, "val_ssim": val_ssim, **self.val_extra})
        if self.best_psnr is None or val_psnr > self.best_psnr or self.opts.select == "last":
            self.best_psnr = val_psnr
            save_weights(self.net, self.out / "best.pt", step=self.step, val_psnr=val_psnr,
                         val_ssim=val_ssim, val_sharpness=self.val_extra["val_sharpness"],
                         init=self.init_source, data=str(self.opts.data_dir))
        info = TrainProgress(self.step, self.total, parts, val_psnr, val_ssim, preview, rate, eta)
        if progress is not None:
            progress(info)
        return info


def train(opts: TrainOptions, progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, bar: bool = False) -> TrainResult:
    """Run a whole training job (see module docstring)."""
    return Trainer(opts).run(progress, should_stop, bar)


# ------------------------------------------------------------------- CLI
def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune the model on a folder of photos")
    p.add_argument("data_dir", type=Path, help="folder of photos (searched recursively)")
    p.add_argument("--out", type=Path, default=Path("runs/latest"), help="run folder (default runs/latest)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimiser steps (default 2000)")
    length.add_argument("--epochs", type=float, help="passes over the photos (one crop each)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--size", type=int, default=256, help="training crop size")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--device", default="auto")
    p.add_argument("--config", choices=["default", "paper"], default="default", help="plan for --scratch")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--init", type=Path, help="start weights (default: the bundled model)")
    start.add_argument("--scratch", action="store_true", help="start from random weights")
    p.add_argument("--vgg-weights", type=Path, help="torchvision ImageNet VGG16 state dict for the losses")
    p.add_argument("--lambda-corr", type=float, default=1e-5, help="λ1, correlation loss weight")
    p.add_argument("--lambda-style", type=float, default=1e-3, help="λ2, style loss weight")
    p.add_argument("--l1-only-steps", type=int, default=0, help="plain L1 for the first N steps")
    p.add_argument("--l1", dest="l1_region", choices=["image", "hole"], default="image",
                   help="L1 over the whole image (the paper) or over the hole only, per photo")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="cosine: decay the lr to --lr-min by the last step")
    p.add_argument("--lr-min", type=float, default=1e-6)
    p.add_argument("--stages", choices=["both", "refine"], default="both",
                   help="refine: train stage 2 only, stage 1 frozen")
    p.add_argument("--hole-area", default="0-40", help="hole area range in %% (default 0-40)")
    p.add_argument("--val", type=Path, dest="val_dir", help="validation photos (default: 10%% of DATA_DIR)")
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--workers", type=int, default=-1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--amp", choices=["auto", "off"], default="auto",
                   help="bf16 autocast on CUDA and bf16-capable CPUs (auto) or fp32 (off)")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (GPU)")
    p.add_argument("--adversarial", action="store_true", help="add the optional SN-PatchGAN fine stage")
    p.add_argument("--lambda-adv", type=float, default=0.01, help="weight of the adversarial (hinge) term")
    p.add_argument("--lr-critic", type=float, help="the critic's learning rate (default: --lr)")
    p.add_argument("--lambda-refine-l1", type=float, default=1.0,
                   help="weight of the stage-2 L1 (stage 1's is 1); lower lets stage 2 add texture")
    p.add_argument("--lambda-perceptual", type=float, default=0.0,
                   help="perceptual loss (VGG pool1-3 feature L1) on the stage-2 composite")
    p.add_argument("--select", choices=["psnr", "last"], default="psnr",
                   help="best.pt: the best validation PSNR (default) or the newest validated step")
    p.add_argument("--run-scales", type=parse_scales,
                   help="inference scales stored with the weights and used by validation, e.g. 1 or 1,0.5,0.25 "
                        "(default: the init weights')")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    p.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    from .masks import area_bins

    known = {f.name for f in fields(TrainOptions)}
    values = {k: v for k, v in vars(args).items() if k in known and v is not None}
    values["out_dir"] = args.out
    values["hole_area"] = area_bins(args.hole_area)[0]
    if args.steps is None and args.epochs is None:
        values["steps"] = 2000
    opts = TrainOptions(**values)
    try:
        trainer = Trainer(opts)
    except (TrainError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, why in trainer.skipped:
        print(f"skipped {why}", file=sys.stderr)
    print(f"training {trainer.cfg.name} on {len(trainer.train_photos)} photos "
          f"({len(trainer.val_photos)} held out, {len(trainer.skipped)} unreadable) on "
          f"{describe(trainer.device)}{' bf16' if trainer.amp else ''} from {trainer.init_source}; {trainer.total} steps of "
          f"{opts.batch_size} at {opts.size}px -> {opts.out_dir}", file=sys.stderr)
    try:
        result = trainer.run(bar=True)
    except TrainError as exc:  # --resume from a last.pt that does not fit
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'stopped' if result.stopped else 'done'} at step {result.steps_done}; best val PSNR "
          f"{result.best_psnr:.2f} dB -> {result.best_path}", file=sys.stderr)
    return 0
