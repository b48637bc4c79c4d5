"""The checks on a batch's options before anything is written
(``validate_options``): inputs are read-only, so outputs and reports that
overlap them are refused."""
from __future__ import annotations

import os
from pathlib import Path

from ..masks import check_hole_fraction
from ..paths import path_relation, real_path
from ..photos.files import cleaned_folder, is_image_file
from ..photos.imageio import ImageReadError, read_mask
from .errors import BatchError, BatchOptionError
from .options import MASK_FITS, MISSING, BatchOptions


def input_paths(options: BatchOptions) -> list[tuple[str, Path]]:
    """What the run reads (and so must never write): (what, path)."""
    items = [("photo folder", Path(options.input_dir))]
    if options.mask is not None:
        items.append(("mask file", Path(options.mask)))
    if options.masks_dir is not None:
        items.append(("mask folder", Path(options.masks_dir)))
    return items


def validate_options(options: BatchOptions, finds_hole: bool = False) -> Path:
    """Check ``options``; return the output folder. Raises BatchError.
    ``finds_hole``: the filler places its own hole in each photo (the
    watermark restorer), so the run takes no mask.

    Inputs (the photo folder, the mask file, the mask folder) are read-only:
    an output folder that is, contains or lies inside one of them is refused,
    and so is a report file that is one of them or lies inside one."""
    src = Path(options.input_dir)
    if not src.is_dir():
        raise BatchError(f"input folder not found: {src}")
    if finds_hole:
        if options.mask is not None or options.masks_dir is not None:
            raise BatchOptionError("{watermark} replaces {mask} and {masks_dir}: give only one of them")
    elif (options.mask is None) == (options.masks_dir is None):
        raise BatchOptionError("give exactly one of a mask ({mask}) or a mask folder ({masks_dir})")
    if options.mask is not None:
        if not os.path.lexists(options.mask):
            raise BatchError(f"mask file not found: {options.mask}")
        try:
            hole = read_mask(options.mask)
        except ImageReadError as exc:
            raise BatchError(f"cannot read the mask: {exc}") from None
        if not hole.any():
            raise BatchError(f"the mask {options.mask} is empty (all black): nothing to remove")
        try:
            check_hole_fraction(hole)
        except ValueError as exc:
            raise BatchError(f"the mask {options.mask}: {exc}") from None
    if options.masks_dir is not None and not Path(options.masks_dir).is_dir():
        raise BatchError(f"mask folder not found: {options.masks_dir}")
    if options.mask_fit not in MASK_FITS:
        raise BatchOptionError("unknown {mask_fit} {got!r}; choose from {choices}", got=options.mask_fit,
                               choices=", ".join(MASK_FITS))
    if options.missing not in MISSING:
        raise BatchOptionError("unknown {missing} {got!r}; choose copy or skip", got=options.missing)
    if options.quality is not None and not 1 <= int(options.quality) <= 100:
        raise BatchOptionError("{quality} must be 1-100, got {got}", got=options.quality)
    if options.workers is not None and options.cluster is None:
        raise BatchOptionError("{workers} is for a cluster run: give {cluster} ADDRESS (or auto) too")
    if options.workers is not None and int(options.workers) < 1:
        raise BatchOptionError("{workers} must be 1 or more, got {got}", got=options.workers)
    out = Path(options.output_dir) if options.output_dir is not None else cleaned_folder(src)
    for what, path in input_paths(options):
        relation = path_relation(out, path)
        if relation is not None:
            raise BatchError(f"the output folder {out} {relation} the {what} {path}; choose a separate "
                             "folder (inputs are never written to)")
    if out.exists() and not out.is_dir():
        raise BatchError(f"the output path {out} exists and is not a folder")
    if options.report is not None:
        report = Path(options.report)
        for what, path in input_paths(options):
            relation = path_relation(report, path)
            if relation in ("is", "lies inside"):
                raise BatchError(f"the report {report} {relation} the {what} {path}; "
                                 "write it elsewhere (inputs are never written to)")
        if report.is_dir() or real_path(report) == real_path(out):
            raise BatchError(f"the report {report} is a folder; give a file name such as report.json")
        problem = _report_collision(report, out, src)
        if problem:
            raise BatchError(f"the report {report} {problem}; write it elsewhere, e.g. {out.parent / 'report.json'}")
    return out


def _report_collision(report: Path, out: Path, src: Path) -> str | None:
    """Why ``report`` could land on something the run writes in ``out``, or None:
    a cleaned photo (any image name: it may be an output), a file or folder the
    input has at the same relative path, or the run's own files."""
    if path_relation(report, out) != "lies inside":
        return None
    rel = real_path(report).relative_to(real_path(out))
    if rel.parts[0].startswith(".inpaint") or rel.name.startswith(".inpaint"):
        return f"would replace the batch's own {rel.as_posix()}"
    if is_image_file(report):
        return "has a photo's name inside the output folder, where it could replace a cleaned photo"
    if os.path.lexists(src / rel):
        return f"would land where the output of {src / rel} goes"
    return None

