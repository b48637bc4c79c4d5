"""``python main.py batch INPUT_DIR (--mask M | --masks DIR | --watermark auto|FILE) [-o OUT] ...``:
a folder of photos (``model/jobs/batch.py``; the flags come from ``BatchOptions``);
with ``--cluster ADDRESS|auto`` on Ray workers (``model/jobs/cluster.py``, imported only then)."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .common import add_device_weights, open_inpainter, texture_on, unread_flags, weights_message
from .options import add_option_flags, flag_of, in_flags, options_from_args


def add_command(sub: argparse._SubParsersAction) -> None:
    from ..jobs.options import BatchOptions
    from ..jobs.watermark_options import SAMPLE

    p = sub.add_parser("batch", help="remove a region (one mask or per-photo masks) from a folder of photos",
                       description="Clean every photo of a folder (recursively). Results keep the relative "
                                   "path, name, format, quality and metadata; the input is never modified.")
    groups = add_option_flags(p, BatchOptions, required_groups=("mask",))
    groups["mask"].add_argument("--watermark", metavar="auto|FILE",
                                help="restore a semi-transparent watermark shared by the photos: estimate it "
                                     "(auto) or use a watermark-mask output (MASK.png with MASK_alpha.png, "
                                     "MASK_colour.png)")
    p.add_argument("--sample", type=int, default=SAMPLE,
                   help=f"with --watermark auto: photos to estimate it from (default {SAMPLE})")
    add_device_weights(p)
    p.set_defaults(func=run)


class _StopOnInterrupt:
    """First Ctrl+C: finish the current photo, then stop; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after the current photo (Ctrl+C again to abort)", file=sys.stderr)


def _note(message: str) -> None:
    from tqdm import tqdm
    tqdm.write(message, file=sys.stderr)


def _prepare_watermark(options, args: argparse.Namespace):
    """``--watermark auto|FILE [--sample N]``: ``prepare_batch`` with what it
    found printed. Raises BatchError."""
    from ..jobs.watermark_model import describe
    from ..jobs.watermark_restore import WATERMARK_DIR, prepare_batch

    if str(args.watermark) == "auto":
        print(f"estimating the shared watermark from up to {args.sample} photos ...", file=sys.stderr)
    run, restorer = prepare_batch(options, args.watermark, args.sample, note=_note)
    mark = restorer.mark
    origin = f"from {len(mark.used)} photos" if mark.used else f"from {args.watermark}"
    print(f"watermark {origin}: {describe(mark)}; kept in {Path(run.output_dir) / WATERMARK_DIR}", file=sys.stderr)
    return run, restorer


def run(args: argparse.Namespace) -> int:
    from ..jobs.batch import run_batch
    from ..jobs.errors import BatchError
    from ..jobs.lock import busy_message, lock_holder
    from ..jobs.options import BatchOptions
    from ..jobs.plan import NO_MASK
    from ..jobs.report import BatchProgress
    from ..jobs.validation import validate_options

    problem = unread_flags(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    options = options_from_args(BatchOptions, args)
    restorer = None
    try:
        if args.watermark is not None:  # model/jobs/watermark_restore.py: estimate, then restore instead of repaint
            options, restorer = _prepare_watermark(options, args)
        out_dir = validate_options(options, finds_hole=restorer is not None)
        holder = lock_holder(out_dir)
        if holder is not None:  # say so before the model is loaded
            raise BatchError(busy_message(out_dir, holder))
    except BatchError as exc:
        print(f"error: {in_flags(exc, BatchOptions)}", file=sys.stderr)
        return 2
    if options.cluster is not None:  # model/jobs/cluster.py: the workers load the model
        if args.method == "network" and not _weights_usable(args):
            return 2

        def start(progress, should_stop):
            from ..jobs.cluster import run_cluster_batch
            return run_cluster_batch(options, args.weights, args.device, texture_on(args), restorer,
                                     progress=progress, should_stop=should_stop, note=_note, method=args.method)
    else:
        inpainter = open_inpainter(args)
        if inpainter is None:
            return 2
        if restorer is not None:
            inpainter = restorer.bind(inpainter)

        def start(progress, should_stop):
            return run_batch(options, inpainter, progress=progress, should_stop=should_stop)

    from tqdm import tqdm
    bars: list = []  # made at the first photo, so an error before it (an unreachable cluster) is one clean line

    def on_progress(p: BatchProgress) -> None:
        if not bars:
            bars.append(tqdm(total=p.total, unit="photo", file=sys.stderr, dynamic_ncols=True, smoothing=0.1))
        bar = bars[0]
        if bar.total != p.total:
            bar.total = p.total
        workers = f"{p.workers} worker{'s' if p.workers != 1 else ''}, " if p.workers else ""
        bar.set_postfix_str(workers + Path(p.path).name[-30:], refresh=False)
        bar.update(1)
        if p.outcome == "failed":
            bar.write(f"failed: {p.path}: {_with_hint(p.reason, p.option)}", file=sys.stderr)
        elif p.outcome == "skipped" and p.reason and p.reason != NO_MASK:
            bar.write(f"skipped: {p.path}: {p.reason}", file=sys.stderr)

    stopper = _StopOnInterrupt()
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, stopper.handle) if on_main else None
    try:
        summary = start(on_progress, stopper)
    except BatchError as exc:  # e.g. another run took the output folder meanwhile
        print(f"error: {in_flags(exc, BatchOptions)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the output folder cannot be created or written at all
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
        if on_main:
            signal.signal(signal.SIGINT, previous)
    print(format_summary(summary), file=sys.stderr)
    print(f"results in {out_dir}")
    if summary.report_error:  # after the summary, so a full disk never hides what was done
        print(f"error: {summary.report_error}", file=sys.stderr)
    if summary.stopped:
        return 130
    return 1 if summary.failed or summary.report_error else 0


def _weights_usable(args: argparse.Namespace) -> bool:
    """For a cluster run: the weights load here (on the CPU) before they are
    sent to the workers; else False after printing why (the caller exits with 2)."""
    from ..checkpoint import load_network
    from ..paths import resolve_weights

    try:
        load_network(resolve_weights(args.weights))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {weights_message(exc)}", file=sys.stderr)
        return False
    return True


def _with_hint(reason: str, option: str) -> str:
    """A photo's failure and, when an option's value refused it, the flag that changes it."""
    from ..jobs.options import BatchOptions

    return f"{reason} (use {flag_of(option, BatchOptions)} to map it)" if option else reason


def format_summary(summary) -> str:
    """The lines printed after a run: counts, rate, then each failed and refused file."""
    from ..jobs.plan import NO_MASK

    rate = summary.done / summary.seconds if summary.seconds > 0 else 0.0
    lines = [f"{'stopped' if summary.stopped else 'finished'}: {summary.done} cleaned, {summary.copied} copied, "
             f"{summary.skipped} skipped, {len(summary.failed)} failed of {summary.total} "
             f"in {summary.seconds:.1f} s ({rate:.2f} photos/s)"]
    if summary.other_job:
        lines.append(f"--resume: {summary.output_dir} was written with another mask, watermark or settings "
                     "(--mask-fit, --quality, --missing, --method, --weights, --texture): every photo was done again")
    if summary.stopped:
        lines.append(f"{summary.total - len(summary.records)} not started; run again with --resume to finish")
    refused_by = {record.path: record.option for record in summary.records if record.status == "failed"}
    for path, reason in summary.failed:
        lines.append(f"  FAILED {path}: {_with_hint(reason, refused_by.get(path, ''))}")
    for record in summary.records:  # refused entries (symlinks out, special files); not the routine ones
        if record.status == "skipped" and record.reason != NO_MASK:
            lines.append(f"  SKIPPED {record.path}: {record.reason}")
    return "\n".join(lines)
