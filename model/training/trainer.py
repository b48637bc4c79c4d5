"""Fine-tune (or train) the inpainting network on a folder of photos.

``python main.py train DATA_DIR [--steps N] [--out RUN_DIR] ...``
(``model/cli/train.py``) or, from Python (the GUI's fine-tune dialog),
``train(TrainOptions(...), progress=cb, should_stop=cb)``; the options and
their defaults: ``model/training/options.py``. Writes RUN_DIR/last.pt (resumable: model, optimiser, step,
RNG state), RUN_DIR/best.pt (by validation PSNR, loadable by the app),
RUN_DIR/log.jsonl and RUN_DIR/previews/step_XXXXXXX.png.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from ..checkpoint import (FORMAT, CheckpointError, atomic_save, load_network, load_state, read_checkpoint,
                         save_weights)
from ..devices import autocast, cpu_has_bf16, resolve_device
from ..inference import Inpainter
from ..losses import BUNDLED_VGG, InpaintLoss, LossWeights, VGGFeatures
from ..network import InpaintNet, NetConfig, get_config
from ..paths import path_relation, resolve_weights
from ..photos.atomic import TEMP_SUFFIX, atomic_target
from .data import CropDataset, scan_photos, split_validation
from .options import TrainOptions


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
        cfg = get_config(opts.config, run_size=opts.size)
        return InpaintNet(cfg).to(device), f"scratch ({cfg.name})"
    path = resolve_weights(opts.init)
    net, _ = load_network(path, device)
    net.cfg = replace(net.cfg, run_size=opts.size)
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
            from ..adversarial import PatchDiscriminator
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
        from ..evaluation.cases import make_cases
        from ..photos.imageio import read_image

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
            with atomic_target(log) as tmp:
                tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")

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
        from ..adversarial import critic_loss, generator_loss

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
        from ..evaluation.report import evaluate_cases
        from ..evaluation.sheets import comparison_sheet

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
