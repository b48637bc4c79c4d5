"""The plan of a batch run: one job per file of the photo folder, with its
mask, output and what to do with it (clean, copy, skip, resumed, fail)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..paths import is_inside, real_path
from ..photos.files import entry_problem, list_photos, walk_photos
from .manifest import Manifest
from .options import BatchOptions

NO_MASK = "no mask for this photo"


@dataclass
class Job:
    path: Path
    rel: Path
    out: Path
    mask: Path | None  # the per-photo mask (masks_dir) or the shared one
    action: str  # "clean", "copy", "skip", "resumed"
    reason: str = ""


def _mask_index(masks_dir: Path) -> dict[tuple[str, str], Path]:
    """(relative folder, stem) -> mask file; PNG first when several share a stem."""
    index: dict[tuple[str, str], Path] = {}
    order = {s: i for i, s in enumerate((".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg"))}
    masks_dir = Path(masks_dir)
    for path in sorted(list_photos(masks_dir), key=lambda p: order.get(p.suffix.lower(), 9)):
        key = (path.parent.relative_to(masks_dir).as_posix(), path.stem)
        index.setdefault(key, path)
    return index


def find_mask(index: dict[tuple[str, str], Path], rel: Path) -> Path | None:
    """The mask for photo ``rel``: same relative folder and stem, else the
    same stem at the top of the mask folder."""
    return index.get((rel.parent.as_posix(), rel.stem)) or index.get((".", rel.stem))


def plan_jobs(options: BatchOptions, out_dir: Path, manifest: Manifest, finds_hole: bool = False) -> list[Job]:
    """One job per file; ``finds_hole``: the filler places its own hole, so
    every photo is cleaned without a mask."""
    src = Path(options.input_dir)
    exclude = tuple(p for p in (options.masks_dir, out_dir) if p is not None)
    index = _mask_index(Path(options.masks_dir)) if options.masks_dir is not None else None
    jobs = []
    photos, linked = walk_photos(src, exclude)
    for folder in linked:
        rel = folder.relative_to(src)
        jobs.append(Job(folder, rel, out_dir / rel, None, "skip", "symlinked folder: not followed"))
    for path in photos:
        rel = path.relative_to(src)
        out = out_dir / rel
        if index is not None:
            mask = find_mask(index, rel)
        else:  # the shared mask, or none: the filler places its own hole
            mask = Path(options.mask) if options.mask is not None else None
        if options.mask is not None and real_path(path) == real_path(options.mask):
            continue  # the mask itself lies in the photo folder
        problem = entry_problem(path, src)
        if problem is None and mask is not None and index is not None:
            mask_problem = entry_problem(mask, Path(options.masks_dir))
            if mask_problem is not None:
                problem = (mask_problem[0], f"its mask {mask}: {mask_problem[1]}")
        if problem is not None:
            jobs.append(Job(path, rel, out, mask, problem[0], problem[1]))
        elif is_inside(out, src):  # never overwrite a source (validate_options refuses such folders)
            jobs.append(Job(path, rel, out, mask, "fail", "the output would be written into the input folder"))
        elif manifest.finished(rel.as_posix(), path, out, mask):
            jobs.append(Job(path, rel, out, mask, "resumed", "finished by an earlier run"))
        elif mask is None and not finds_hole:
            action = "copy" if options.missing == "copy" else "skip"
            jobs.append(Job(path, rel, out, None, action, NO_MASK))
        else:
            jobs.append(Job(path, rel, out, mask, "clean"))
    return jobs
