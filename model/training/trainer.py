"""Fine-tune (or train) the inpainting network on a folder of photos.

``python main.py train DATA_DIR [--steps N] [--out RUN_DIR] ...``
(``model/cli/train.py``) or, from Python (the GUI's fine-tune dialog),
``train(TrainOptions(...), progress=cb, should_stop=cb)``; the options and
their defaults: ``model/training/options.py``. Writes RUN_DIR/last.pt (resumable: model, optimiser, step,
RNG state), RUN_DIR/best.pt (by validation PSNR, loadable by the app),
RUN_DIR/log.jsonl and RUN_DIR/previews/step_XXXXXXX.png.

``Trainer`` is the loop and the order of things; the pieces it calls live
beside it: ``build`` (photos, network, losses, optimisers from the options),
``step`` (lr schedule, critic update), ``validation`` (fixed cases, scores,
preview sheet) and ``run_folder`` (last.pt for --resume, RNG state, the log,
stale temp files).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from ..checkpoint import FORMAT, CheckpointError, atomic_save, load_state, save_weights
from ..losses import loss_values
from ..devices import autocast, cpu_has_bf16, resolve_device
from ..network import NetConfig
from ..prefill import DEVICE_PREFILLS
from .build import build_losses, build_optimisers, find_photos, total_steps
from .build import build_network as _build_network  # looked up here when a Trainer is made: tests swap it
from .data import CropDataset
from .device_data import DeviceBatches
from .options import TrainError, TrainOptionError, TrainOptions, check_choices
from .run_folder import (RunLog, check_run_folder, read_last, remove_stale_checkpoint_temps, rng_state,
                         set_rng_state)
from .step import adversarial_term, learning_rate
from .validation import validate_network, validation_cases
from .widen import widen_network

__all__ = ["TrainError", "TrainOptions", "TrainProgress", "TrainResult", "Trainer", "check_run_folder",
           "remove_stale_checkpoint_temps", "train"]


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


class Trainer:
    """One training run; ``run()`` does the loop. Split into a class so tests
    and the GUI can inspect the pieces (dataset, network, options)."""

    def __init__(self, opts: TrainOptions):
        self.opts = opts
        self.out = Path(opts.out_dir)
        check_choices(opts, "l1_region", "lr_schedule", "stages")
        check_run_folder(opts)
        self._resume_ckpt = read_last(self.out) if opts.resume else None  # fail before the slow set-up
        self.device = resolve_device(opts.device)
        self.train_photos, self.val_photos, self.skipped = find_photos(opts, self.out)
        self.total = total_steps(opts, len(self.train_photos))
        # The order below is the RNG's order (network, VGG, critic initialisation): keep it.
        self._build_model()
        self.dataset = CropDataset(self.train_photos, opts.size, self.cfg.prefill, opts.hole_area, opts.seed)
        self.pipeline = self._choose_pipeline()
        self.device_batches = (DeviceBatches(self.train_photos, opts.size, self.cfg.prefill, opts.hole_area,
                                             opts.batch_size, self.device, opts.seed)
                               if self.pipeline == "device" else None)
        self.val_cases = validation_cases(self.val_photos, opts.size)
        self.loss, self.l1_loss = build_losses(opts, self.device)
        # Reading the losses waits for an accelerator to finish the step: there they are read (in one
        # transfer) only on the steps that log them; on the CPU they are ready, so the curve gets every step.
        self.losses_every_step = self.device.type == "cpu"
        self.optimizer, self.critic, self.critic_opt = build_optimisers(self.net, opts, self.device)
        self.log = RunLog(self.out)
        self.step = 0
        self._saved_step: int | None = None  # step of the newest last.pt
        self.best_psnr: float | None = None
        self.val_extra: dict[str, float] = {}
        self.forward = torch.compile(self.net) if opts.compile else self.net

    def _build_model(self) -> None:
        """The network (seeded: a scratch network starts the same every time),
        its inference scales and memory layout, and whether steps run in bf16."""
        opts = self.opts
        check_choices(opts, "select", "prefill", "memory_format", "pipeline", "fused_adam")
        torch.manual_seed(opts.seed)
        self.net, self.init_source = _build_network(opts, self.device)
        if opts.widen is not None:
            if opts.widen < 1:
                raise TrainOptionError("{widen} must be at least 1, not {got}", got=opts.widen)
            try:
                self.net = widen_network(self.net, opts.widen)
            except ValueError as exc:
                raise TrainError(str(exc)) from None
            self.init_source += f" widened x{opts.widen:g}"
        if opts.prefill is not None:  # recorded in the config: inference makes the same prefill
            self.net.cfg = replace(self.net.cfg, prefill=opts.prefill)
        if opts.run_scales is not None:
            self.net.cfg = replace(self.net.cfg, run_scales=tuple(opts.run_scales))
        # channels_last: ~2.5x faster convolutions on CPU (oneDNN) and tensor cores on GPU
        self.memory_format = (torch.channels_last if opts.memory_format == "channels_last"
                              else torch.contiguous_format)
        self.net = self.net.to(memory_format=self.memory_format)
        check_choices(opts, "amp")
        self.amp = opts.amp == "auto" and (self.device.type != "cpu" or cpu_has_bf16())
        self.cfg: NetConfig = self.net.cfg

    # ------------------------------------------------------------ state
    def state(self) -> dict:
        """What last.pt holds: enough to resume the run exactly."""
        return {"format": FORMAT, "config": self.cfg.to_dict(),
                "model": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "step": self.step,
                "best_psnr": self.best_psnr, "rng": rng_state(), "options": self.opts.to_dict(),
                "meta": {"step": self.step, "init": self.init_source},
                **({"critic": self.critic.state_dict(), "critic_optimizer": self.critic_opt.state_dict()}
                   if self.critic is not None else {})}

    def save_last(self) -> Path:
        path = self.out / "last.pt"
        atomic_save(self.state(), path)
        self._saved_step = self.step
        return path

    def load_last(self) -> None:
        """Continue from RUN_DIR/last.pt: weights, optimisers, step, best PSNR,
        RNG; the log loses the lines written after it."""
        path = self.out / "last.pt"
        ckpt, self._resume_ckpt = self._resume_ckpt or read_last(self.out), None
        plan = (f"the run was started with plan {ckpt['config'].get('name')!r}, this run builds "
                f"{self.cfg.name!r}" if isinstance(ckpt.get("config"), dict) else "")
        try:
            load_state(self.net, ckpt["model"], path, plan)
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (CheckpointError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, CheckpointError):
                raise TrainOptionError("{resume}: {problem}", problem=str(exc)) from None
            raise TrainOptionError("{resume}: {path}: its optimiser state does not fit this run "
                                   "(another {stages} or {adversarial}?)", path=path) from None
        if self.critic is not None and "critic" in ckpt:
            self.critic.load_state_dict(ckpt["critic"])
            self.critic_opt.load_state_dict(ckpt["critic_optimizer"])
        self.step = int(ckpt["step"])
        self.best_psnr = ckpt.get("best_psnr")
        set_rng_state(ckpt["rng"])
        self.log.truncate(self.step)

    def _choose_pipeline(self) -> str:
        """--pipeline: "device" or "loader" (auto: device on CUDA when the prefill can be made there)."""
        pipeline, prefill = self.opts.pipeline, self.cfg.prefill
        if pipeline == "auto":
            return "device" if self.device.type == "cuda" and prefill in DEVICE_PREFILLS else "loader"
        if pipeline == "device" and prefill not in DEVICE_PREFILLS:
            raise TrainOptionError("{pipeline} device makes the prefill on the device, and the {name} prefill "
                                   "cannot be made there: add {prefill} harmonic (or zero), or use {pipeline} loader",
                                   name=prefill)
        return pipeline

    # ------------------------------------------------------------- step
    def _batches(self):
        """The batches still to train on, from the DataLoader or made on the device."""
        if self.device_batches is None:
            yield from self._loader()
            return
        for step in range(self.step, self.total):
            yield self.device_batches.batch(step)

    def _loader(self) -> DataLoader:
        """The crops still to train on: sample i of step s is crop s * batch + i,
        so a resumed run gets the crops an unbroken one would have."""
        workers = self.opts.workers
        if workers < 0:
            workers = 4 if self.device.type == "cuda" else 0
        start = self.step * self.opts.batch_size
        indices = range(start, self.total * self.opts.batch_size)
        return DataLoader(self.dataset, batch_size=self.opts.batch_size, sampler=indices,
                          num_workers=workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=False, prefetch_factor=4 if workers else None)

    def train_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """One optimiser step on ``batch`` (and one critic step with --adversarial); returns the loss
        parts as detached device tensors, so that a step never waits for the device to finish."""
        truth, known, prefill = (t.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
                                 for t in batch)
        self.net.train()
        with autocast(self.device, self.amp, cpu=True):
            out = self.forward(truth, known, prefill)
            loss_fn = self.l1_loss if self.step < self.opts.l1_only_steps else self.loss
            total, parts = loss_fn(out, truth, known)
            if self.critic is not None:
                total = total + adversarial_term(self.critic, self.critic_opt, out.refined_composite, truth,
                                                 known, parts, self.opts.lambda_adv)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.step)
        self.optimizer.step()
        self.step += 1
        return parts

    def learning_rate(self, step: int) -> float:
        """The lr of optimiser step ``step`` (0-based) under the schedule."""
        return learning_rate(self.opts, self.total, step)

    # ------------------------------------------------------- validation
    def validate(self) -> tuple[float, float, Path]:
        """Mean PSNR / SSIM of the refined result on the fixed validation
        cases and the preview sheet's path; also sets ``val_extra``, the
        measures logged beside them (``validation.validate_network``)."""
        self.net.eval()
        preview = self.out / "previews" / f"step_{self.step:07d}.png"
        result = validate_network(self.net, self.val_cases, preview, self.opts.size)
        self.net.train()
        self.val_extra = result.extra
        return result.psnr, result.ssim, result.preview

    def _validate_and_keep(self, progress, parts: dict, rate: float, eta: float = 0.0) -> TrainProgress:
        """Validate, log it, write best.pt if these weights are the ones to
        keep (--select), and report it."""
        val_psnr, val_ssim, preview = self.validate()
        self.log.append({"step": self.step, "val_psnr": val_psnr, "val_ssim": val_ssim, **self.val_extra})
        if self.best_psnr is None or val_psnr > self.best_psnr or self.opts.select == "last":
            self.best_psnr = val_psnr
            save_weights(self.net, self.out / "best.pt", step=self.step, val_psnr=val_psnr,
                         val_ssim=val_ssim, val_sharpness=self.val_extra["val_sharpness"],
                         init=self.init_source, data=str(self.opts.data_dir))
        info = TrainProgress(self.step, self.total, parts, val_psnr, val_ssim, preview, rate, eta)
        if progress is not None:
            progress(info)
        return info

    # ------------------------------------------------------------- loop
    def _start(self, progress) -> None:
        """Prepare the run folder (fresh, or resumed from last.pt) and judge
        the starting weights once."""
        self.out.mkdir(parents=True, exist_ok=True)
        remove_stale_checkpoint_temps(self.out)
        if self.opts.resume:
            self.load_last()
        else:
            self.log.reset()
        (self.out / "options.json").write_text(json.dumps(self.opts.to_dict(), indent=2))
        if self.step == 0 and self.best_psnr is None:
            self._validate_and_keep(progress, {}, 0.0)

    def run(self, progress: Callable[[TrainProgress], None] | None = None,
            should_stop: Callable[[], bool] | None = None, bar: bool = False) -> TrainResult:
        self._start(progress)
        tqdm_bar = None
        if bar:
            from tqdm import tqdm
            tqdm_bar = tqdm(total=self.total, initial=self.step, unit="step", dynamic_ncols=True, file=sys.stderr)
        stopped = False
        t0, s0 = time.perf_counter(), self.step
        try:
            for batch in self._batches():
                step_parts = self.train_step(batch)
                if tqdm_bar is not None:
                    tqdm_bar.update(1)
                logging = self.step % self.opts.log_every == 0 or self.step == self.total
                validating = self.step % self.opts.val_every == 0 or self.step == self.total
                out_of_time = self.opts.time_limit is not None and time.perf_counter() - t0 > 60 * self.opts.time_limit
                stopping = out_of_time or (should_stop is not None and should_stop())
                parts = {}
                if logging or validating or stopping or self.losses_every_step:
                    parts = loss_values(step_parts)
                    rate = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
                    eta = (self.total - self.step) / max(rate, 1e-9)
                    if tqdm_bar is not None:
                        tqdm_bar.set_postfix(loss=f"{parts['total']:.4f}", l1=f"{parts['l1']:.4f}")
                if logging:
                    self.log.append({"step": self.step, **parts, "time": time.time()})
                val = None
                if validating:
                    val = self._validate_and_keep(progress, parts, rate, eta)
                if self.step % self.opts.checkpoint_every == 0:
                    self.save_last()
                if progress is not None and val is None and parts:
                    progress(TrainProgress(self.step, self.total, parts, steps_per_s=rate, eta_s=eta))
                if stopping:
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


def train(opts: TrainOptions, progress: Callable[[TrainProgress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, bar: bool = False) -> TrainResult:
    """Run a whole training job (see module docstring)."""
    return Trainer(opts).run(progress, should_stop, bar)
