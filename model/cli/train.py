"""``python main.py train DATA_DIR [--steps N] [--out RUN_DIR] ...``: the flags
are generated from ``TrainOptions`` (``model/training/options.py``), the one
place the training options and their defaults are written."""
from __future__ import annotations

import argparse
import sys

from .common import weights_message
from .options import add_option_flags, flag_of, in_flags, options_from_args


def add_command(sub: argparse._SubParsersAction) -> None:
    from ..training.options import TrainOptions

    p = sub.add_parser("train", help="fine-tune the model on a folder of photos",
                       description="Fine-tune (or train from scratch) on a folder of photos; writes "
                                   "RUN_DIR/last.pt (resumable), best.pt, log.jsonl and preview sheets.")
    add_option_flags(p, TrainOptions)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..devices import describe
    from ..training.options import TrainOptions
    from ..training.trainer import TrainError, Trainer

    opts = options_from_args(TrainOptions, args)
    try:
        trainer = Trainer(opts)
    except (TrainError, FileNotFoundError, ValueError) as exc:
        message = in_flags(exc, TrainOptions) if isinstance(exc, ValueError) else \
            weights_message(exc, flag_of("init", TrainOptions))  # the starting weights are --init's
        print(f"error: {message}", file=sys.stderr)
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
        print(f"error: {in_flags(exc, TrainOptions)}", file=sys.stderr)
        return 2
    print(f"{'stopped' if result.stopped else 'done'} at step {result.steps_done}; best val PSNR "
          f"{result.best_psnr:.2f} dB -> {result.best_path}", file=sys.stderr)
    return 0
