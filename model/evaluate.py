"""Evaluation: the model against classical fills, per hole-area bin.

``python main.py eval [IMAGES_DIR | --builtin] [--masks DIR | --bins 10-20,... --seed S]
[--per-bin N] [--weights W] [--device D] [--baselines telea,ns,patchmatch,biharmonic]
[--json OUT.json] [--sheet OUT.png] [--size 512] [--no-deep]``
``python main.py eval IMAGES_DIR --hires [--held-out] [--seed S] [--json J] [--sheet S]``

Photos are centre-cropped to a square and resized to ``size``; masks are
seeded free-form strokes and object-like blobs whose hole area lies in each
bin. Every method fills the same cases; PSNR, SSIM, L1 and the deep distance
(``model.deep_distance``: EfficientNet-Lite0 features, eval-only) are taken
over the whole image (known pixels included), as in the paper's Table 1; the
sharpness ratio (``metrics.sharpness_ratio``) over the hole only. The model
is run through ``Inpainter`` (the one inference path, built in
``build_inpainter``), so what is measured is what the app does.

``--hires``: the photos at full resolution with one seeded object-shaped hole
each (2-8 % of the area); scores on a 512² hole-centred crop, the sharpness
over the whole hole, and a sheet of those crops at 100 % zoom.

From Python (the trainer's validation): ``evaluate_cases(inpainter,
make_cases(images, bins, seed, per_bin))`` -> dict; ``format_table(results)``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from .masks import area_bins, random_mask
from .metrics import l1, psnr, sharpness_ratio, ssim
from . import texture
from .prefill import classical_fill

EVAL_SIZE = 512
DEFAULT_BINS = "10-20,20-30,30-40,40-50"
# Free-form brush strokes and object silhouettes, mixed within each mask:
# the two kinds of hole a user paints when removing something.
EVAL_KINDS = ("strokes", "blobs")
MODEL_METHODS = ("refined", "coarse")
BASELINES = ("telea", "ns", "patchmatch", "biharmonic")
LABELS = {"refined": "ours refined", "coarse": "ours coarse", "telea": "Telea (cv2)",
          "ns": "NS (cv2)", "patchmatch": "PatchMatch", "biharmonic": "biharmonic"}
# Per-case scores: whole-image PSNR / SSIM / L1, the deep distance (whole
# image, model.deep_distance) and the sharpness ratio (hole only).
METRICS = ("psnr", "ssim", "l1", "deep", "sharpness")
PATCHMATCH_PATCH = 3  # pypatchmatch's patch radius (7x7 patches), as in its examples
PATCHMATCH_NOTE = "PatchMatch baseline left out: the pypatchmatch library is not available here"
BIHARMONIC_NOTE = "biharmonic baseline left out: scikit-image is not installed (the optional eval extra)"

BinSpec = str | Sequence[tuple[float, float]]


@dataclass
class Case:
    """One evaluation case: a square photo and a hole to fill."""

    name: str
    image: np.ndarray  # RGB uint8, the ground truth
    hole: np.ndarray  # bool, True = missing
    bin: str  # area bin label, e.g. "10-20"


# ------------------------------------------------------------------ images

# Colour natural photographs that ship inside installed packages, reserved
# for evaluation (never training). Listed explicitly: the rest of those
# folders are drawings, microscopy, charts, or near-duplicates
# (motorcycle_right is the other half of a stereo pair).
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg",)


def _builtin_files() -> list[tuple[str, Path]]:
    """(name, path) of the built-in photos found on disk. Files are read
    straight from the installed packages so nothing is ever downloaded
    (some skimage.data functions fetch their image from the internet)."""
    found: list[tuple[str, Path]] = []
    try:
        import skimage.data
        root = Path(skimage.data.__file__).parent
        found += [(f"skimage/{Path(f).stem}", root / f) for f in SKIMAGE_PHOTOS]
    except ImportError:
        pass
    try:
        import sklearn.datasets
        root = Path(sklearn.datasets.__file__).parent / "images"
        found += [(f"sklearn/{Path(f).stem}", root / f) for f in SKLEARN_PHOTOS]
    except ImportError:
        pass
    try:
        import matplotlib
        root = Path(matplotlib.get_data_path()) / "sample_data"
        found += [(f"matplotlib/{Path(f).stem}", root / f) for f in MATPLOTLIB_PHOTOS]
    except ImportError:
        pass
    return [(name, path) for name, path in found if path.is_file()]


def builtin_eval_images() -> list[tuple[str, np.ndarray]]:
    """The photographs bundled with scikit-image, scikit-learn and matplotlib
    (whichever are installed), as (name, RGB uint8) at their own size."""
    from .imageio import read_image

    return [(name, read_image(path)) for name, path in _builtin_files()]


def folder_images(folder: str | Path) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Photos in a folder (sorted by name), and a message per unreadable file."""
    from .imageio import ImageReadError, is_image_file, read_image

    images, skipped = [], []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or not is_image_file(path):
            continue
        try:
            images.append((path.stem, read_image(path)))
        except ImageReadError as exc:
            skipped.append(str(exc))
    return images, skipped


def square_crop(image: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """Centre square crop (side = the short side), resized to ``size``."""
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = image[y0:y0 + side, x0:x0 + side]
    if side != size:
        if interpolation is None:
            interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(crop)


# ------------------------------------------------------------------- cases

def bin_label(lo: float, hi: float) -> str:
    """(0.1, 0.2) -> "10-20"."""
    return f"{lo * 100:g}-{hi * 100:g}"


def _parse_bins(bins: BinSpec) -> list[tuple[float, float]]:
    return area_bins(bins) if isinstance(bins, str) else [tuple(b) for b in bins]


def make_cases(images: Sequence[tuple[str, np.ndarray]], bins: BinSpec = DEFAULT_BINS, seed: int = 0,
               per_bin: int | None = None, size: int | None = None,
               kinds: tuple[str, ...] = EVAL_KINDS) -> list[Case]:
    """``per_bin`` cases per area bin (default: one per image). Case k of every
    bin uses image k (cycling), so the bins differ only in hole size. Each
    mask comes from its own seed (seed, bin bounds, k): the same arguments
    always give the same cases, and adding a bin leaves the others alone.
    ``size``: centre-crop and resize the images to size x size first."""
    if not images:
        raise ValueError("no images to evaluate on")
    if size is not None:
        images = [(name, square_crop(img, size)) for name, img in images]
    per_bin = len(images) if per_bin is None else per_bin
    cases = []
    for lo, hi in _parse_bins(bins):
        label = bin_label(lo, hi)
        for k in range(per_bin):
            name, image = images[k % len(images)]
            rng = np.random.default_rng([seed, round(lo * 1000), round(hi * 1000), k])
            hole = random_mask(image.shape[0], image.shape[1], (lo, hi), rng=rng, kinds=kinds)
            cases.append(Case(f"{name}#{k}", image, hole, label))
    return cases


def cases_from_masks(images: Sequence[tuple[str, np.ndarray]], masks: Sequence[tuple[str, np.ndarray]],
                     bins: BinSpec = DEFAULT_BINS, per_bin: int | None = None,
                     size: int = EVAL_SIZE) -> tuple[list[Case], list[str]]:
    """Cases from mask files (bool hole maps): mask j goes with image j
    (cycling); each mask's own area picks its bin. Returns the cases and the
    names of masks that fit no bin (or came after ``per_bin`` was reached)."""
    if not images:
        raise ValueError("no images to evaluate on")
    photos = [(name, square_crop(img, size)) for name, img in images]
    ranges = _parse_bins(bins)
    counts = {bin_label(*b): 0 for b in ranges}
    cases, unused = [], []
    for j, (mask_name, hole) in enumerate(masks):
        hole = square_crop(hole.astype(np.uint8), size, cv2.INTER_NEAREST) > 0
        area = float(hole.mean())
        label = next((bin_label(lo, hi) for lo, hi in ranges if lo <= area <= hi), None)
        if label is None or (per_bin is not None and counts[label] >= per_bin):
            unused.append(mask_name)
            continue
        counts[label] += 1
        name, image = photos[j % len(photos)]
        cases.append(Case(f"{name}+{mask_name}", image, hole, label))
    return cases, unused


def folder_masks(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    from .imageio import is_image_file, read_mask

    return [(p.stem, read_mask(p)) for p in sorted(Path(folder).iterdir()) if p.is_file() and is_image_file(p)]


# --------------------------------------------------------------- baselines

def _load_biharmonic():
    """scikit-image's inpaint_biharmonic, or None where scikit-image is missing."""
    try:
        from skimage.restoration import inpaint_biharmonic
    except ImportError:
        return None
    return inpaint_biharmonic


def biharmonic_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting (a smooth fill: each channel solves
    the biharmonic equation with the known pixels as boundary), run on the
    whole image; known pixels stay exactly the input's. At 512 x 512 it takes
    about 0.7 s for a 15 % hole and 3 s for 45 % on this machine's CPU, so no
    size cap is needed there (the high-resolution check leaves it out)."""
    fn = _load_biharmonic()
    if fn is None:
        raise RuntimeError(BIHARMONIC_NOTE)
    filled = fn(image, hole, channel_axis=-1)  # float in 0..1
    out = image.copy()
    out[hole] = np.clip(filled[hole] * 255.0, 0, 255).round().astype(np.uint8)
    return out


def available_baselines(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """The baselines among ``names`` that can run here, and a note for each
    one left out (unknown names raise)."""
    names = [n for n in names if n]
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {list(BASELINES)}")
    usable, notes = [], []
    for name in names:
        if name == "patchmatch" and not texture.available():
            notes.append(PATCHMATCH_NOTE)
            continue
        if name == "biharmonic" and _load_biharmonic() is None:
            notes.append(BIHARMONIC_NOTE)
            continue
        usable.append(name)
    return usable, notes


def run_baseline(name: str, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` with a classical method; known pixels stay as they are."""
    if name in ("telea", "ns"):
        return classical_fill(image, hole, name, radius=5)
    if name == "patchmatch":
        if not texture.available():
            raise RuntimeError(PATCHMATCH_NOTE)
        return texture.patch_fill(image, hole, PATCHMATCH_PATCH)
    if name == "biharmonic":
        return biharmonic_fill(image, hole)
    raise ValueError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")


# -------------------------------------------------------------- evaluation

def _scores(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(out, truth), "ssim": ssim(out, truth), "l1": l1(out, truth),
            "sharpness": sharpness_ratio(out, truth, hole)}


def _decade_bin(area: float) -> str:
    lo = min(9, int(area * 10)) * 10
    return f"{lo}-{lo + 10}"


def _mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in METRICS if rows and all(k in r for r in rows)}


def resolve_deep(deep="auto", device: str = "cpu"):
    """The deep-distance judge for ``evaluate_cases``: "auto" -> the shared
    EfficientNet-Lite0 one where its packages are installed; None -> none.
    Returns (judge or None, note or None)."""
    if deep != "auto":
        return deep, None
    from . import deep_distance

    note = deep_distance.available()
    return (None, note) if note else (deep_distance.shared(device), None)


def evaluate_cases(inpainter, cases: Sequence, baselines: Sequence[str] = (),
                   keep_outputs: int | Iterable[int] = 0, progress: Callable[[int, int], None] | None = None,
                   deep="auto") -> dict:
    """Fill every case with the model (one ``inpainter`` call gives both the
    refined and the coarse result) and with each of ``baselines``; score each
    output against the case's image.

    ``cases``: anything with ``name``, ``image``, ``hole`` and optionally
    ``bin`` (without one, the hole area's 10 % decade is used).
    ``deep``: the deep-feature judge (``model.deep_distance.DeepDistance`` or
    anything with its ``distances(outputs, truth)``); "auto" uses the shared
    CPU one when the eval extra is installed, None leaves the measure out.
    Returns a JSON-ready dict: ``methods``, ``bins``, ``counts`` (cases per
    bin), ``table[bin][method]`` and ``table["all"][method]`` = mean
    {psnr, ssim, l1, deep, sharpness}, ``time_s[method]`` (mean seconds per
    image), ``model_time_s`` (end-to-end Inpainter call), ``notes`` (measures
    left out) and per-case ``cases``.
    ``keep_outputs`` (a count n: the first n cases, or case indices) puts
    those cases' images in ``outputs``, a list of {method: RGB uint8} in case
    order, for ``comparison_sheet``; ``write_json`` leaves it out.
    """
    if not cases:
        raise ValueError("no cases to evaluate")
    keep = set(range(keep_outputs)) if isinstance(keep_outputs, int) else set(keep_outputs)
    judge, deep_note = resolve_deep(deep)
    methods = list(MODEL_METHODS) + list(baselines)
    bins: list[str] = []
    per_case, outputs = [], []
    times: dict[str, list[float]] = {m: [] for m in methods}
    for i, case in enumerate(cases):
        label = getattr(case, "bin", None) or _decade_bin(float(case.hole.mean()))
        if label not in bins:
            bins.append(label)
        t0 = time.perf_counter()
        res = inpainter(case.image, case.hole)
        model_s = time.perf_counter() - t0
        # The first call pays one-time start-up costs (kernel selection,
        # allocations); leave it out of the timing when there are others.
        if i > 0 or len(cases) == 1:
            times["refined"].append(model_s)
            times["coarse"].append(model_s)
        out = {"refined": res.refined, "coarse": res.coarse}
        for name in baselines:
            t0 = time.perf_counter()
            out[name] = run_baseline(name, case.image, case.hole)
            times[name].append(time.perf_counter() - t0)
        scores = {m: _scores(out[m], case.image, case.hole) for m in methods}
        if judge is not None:
            for m, d in judge.distances({m: out[m] for m in methods}, case.image).items():
                scores[m]["deep"] = d
        per_case.append({"name": case.name, "bin": label, "area": float(case.hole.mean()), "scores": scores})
        if i in keep:
            outputs.append(out)
        if progress is not None:
            progress(i + 1, len(cases))

    table = {}
    for label in bins + ["all"]:
        rows = [c for c in per_case if label in ("all", c["bin"])]
        table[label] = {m: _mean_scores([c["scores"][m] for c in rows]) for m in methods}
    results = {
        "methods": methods,
        "bins": bins,
        "counts": {b: sum(c["bin"] == b for c in per_case) for b in bins} | {"all": len(per_case)},
        "table": table,
        "time_s": {m: float(np.mean(t)) for m, t in times.items()},
        "model_time_s": float(np.mean(times["refined"])),
        "notes": [deep_note] if deep_note else [],
        "cases": per_case,
    }
    if keep:
        results["outputs"] = outputs
    return results


# (key, header, width, format) of the table columns; a measure missing from
# the results (the deep distance without its packages) prints as "-".
_COLUMNS = (("psnr", "PSNR dB", 9, ".2f"), ("ssim", "SSIM", 8, ".4f"), ("l1", "L1", 8, ".4f"),
            ("deep", "deep", 8, ".4f"), ("sharpness", "sharp", 7, ".2f"))


def _cell(s: dict, key: str, fmt: str) -> str:
    return format(s[key], fmt) if key in s else "-"


def format_table(results: dict) -> str:
    """The per-bin table as text: one line per (bin, method)."""
    head = f"{'hole area %':<12}{'method':<14}" + "".join(f"{h:>{w}}" for _, h, w, _ in _COLUMNS)
    lines = [head + f"{'s/img':>8}{'n':>5}"]
    for label in results["bins"] + ["all"]:
        lines.append("-" * len(lines[0]))
        for j, m in enumerate(results["methods"]):
            s = results["table"][label][m]
            lines.append(f"{(label if j == 0 else ''):<12}{LABELS.get(m, m):<14}"
                         + "".join(f"{_cell(s, k, f):>{w}}" for k, _, w, f in _COLUMNS)
                         + f"{results['time_s'][m]:>8.3f}{(results['counts'][label] if j == 0 else ''):>5}")
    lines.append(f"model time: {results['model_time_s']:.3f} s per image (end-to-end Inpainter call)")
    lines.append("deep: EfficientNet-Lite0 feature distance (lower is better); "
                 "sharp: hole gradient energy / the truth's (1 = as detailed)")
    lines += results.get("notes", [])
    return "\n".join(lines)


def format_markdown(results: dict) -> str:
    """The same table in Markdown (for docs)."""
    lines = ["| hole area % | method | PSNR (dB) | SSIM | L1 | deep distance | sharpness | s / image |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label in results["bins"] + ["all"]:
        for m in results["methods"]:
            s = results["table"][label][m]
            lines.append(f"| {label} (n={results['counts'][label]}) | {LABELS.get(m, m)} | "
                         + " | ".join(_cell(s, k, f) for k, _, _, f in _COLUMNS)
                         + f" | {results['time_s'][m]:.3f} |")
    return "\n".join(lines)


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in results.items() if k != "outputs"}  # images are not JSON
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


# ------------------------------------------------------------ sheet

SHEET_COLUMNS = ("input", "mask", "telea", "coarse", "refined", "truth")
_COLUMN_TITLES = {"input": "input + mask", "mask": "mask", "truth": "truth"} | LABELS


def _caption(tile: np.ndarray, text: str, y: int) -> None:
    """White text on a dark band, readable over any photo."""
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    cv2.rectangle(tile, (0, y - th - 5), (tw + 8, y + 4), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)


def comparison_sheet(cases: Sequence, outputs: Sequence[dict[str, np.ndarray]], path: str | Path | None = None,
                     columns: Sequence[str] = SHEET_COLUMNS, tile: int = 256,
                     scores: Sequence[dict] | None = None) -> np.ndarray:
    """A labelled grid: one row per case (as many as ``outputs``), one column
    per entry of ``columns`` ("input", "mask", "truth" or a method name in
    the outputs). ``scores`` (results["cases"]) adds each fill's PSNR.
    Returns the RGB sheet and writes it as PNG when ``path`` is given."""
    rows = []
    for i, (case, out) in enumerate(zip(cases, outputs)):
        tiles = []
        for col in columns:
            if col == "input":
                img = case.image.copy()
                red = np.array([255, 0, 0], np.float32)
                img[case.hole] = (0.45 * img[case.hole] + 0.55 * red).astype(np.uint8)
            elif col == "mask":
                img = np.repeat(np.where(case.hole, 255, 0).astype(np.uint8)[..., None], 3, axis=2)
            elif col == "truth":
                img = case.image
            else:
                img = out[col]
            t = np.ascontiguousarray(cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA))
            if col == "input":
                _caption(t, f"{case.name} ({getattr(case, 'bin', '')}%)", 16)
            if scores is not None and col in scores[i]["scores"]:
                _caption(t, f"{scores[i]['scores'][col]['psnr']:.2f} dB", tile - 6)
            tiles.append(t)
        rows.append(np.hstack(tiles))
    if not rows:
        raise ValueError("no cases for the sheet")
    return _titled_sheet(rows, [_COLUMN_TITLES.get(c, c) for c in columns], tile, path)


def _titled_sheet(rows: list[np.ndarray], titles: list[str], tile: int, path: str | Path | None) -> np.ndarray:
    """Stack the rows under a header of column titles; write a PNG when ``path`` is given."""
    header = np.full((26, tile * len(titles), 3), 255, np.uint8)
    for j, title in enumerate(titles):
        cv2.putText(header, title, (j * tile + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    sheet = np.vstack([header] + rows)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return sheet


def sheet_rows(cases: Sequence[Case], count: int = 4) -> list[int]:
    """Indices of up to ``count`` cases for the sheet: the j-th bin's j-th
    case, so that the rows show different bins and different photos."""
    by_bin: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        by_bin.setdefault(c.bin, []).append(i)
    picked = [idx[j % len(idx)] for j, idx in enumerate(by_bin.values())][:count]
    picked += [i for i in range(len(cases)) if i not in picked][:count - len(picked)]
    return sorted(picked)


# --------------------------------------------------------- high resolution

HIRES_AREA = (0.02, 0.08)  # object-sized holes, fraction of the photo
HIRES_CROP = 512  # side of the hole-centred crop the deep distance and the sheet look at
HIRES_BASELINES = ("telea", "patchmatch")
HIRES_COLUMNS = ("input", "telea", "patchmatch", "coarse", "refined", "truth")
_MASK_DRAW_SIDE = 512  # object masks are drawn at this size, then scaled up smoothly


def object_mask(height: int, width: int, area: tuple[float, float] = HIRES_AREA,
                rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A bool hole map shaped like one or a few objects (``masks``' blob
    silhouettes: star-shaped outlines with low-frequency wobble), covering
    ``area`` of the photo. Drawn at about 512 px and scaled up with a smooth
    outline, so it costs the same at any photo size; the area is then
    trimmed into range at full size."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    f = min(1.0, _MASK_DRAW_SIDE / max(height, width))
    sh, sw = max(8, round(height * f)), max(8, round(width * f))
    small = random_mask(sh, sw, area, rng=rng, kinds=("blobs",))
    soft = cv2.GaussianBlur(small.astype(np.float32), (0, 0), 1.0)
    big = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    hole = big > 0.5
    lo, hi = area
    if not lo <= hole.mean() <= hi:  # scaling moved the area out of range (tiny photos): adjust the level
        for level in (0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9):
            if lo <= (big > level).mean() <= hi:
                return big > level
    return hole


@dataclass
class HiresCase:
    """One full-resolution photo with an object-shaped hole."""

    name: str
    image: np.ndarray
    hole: np.ndarray
    centre: tuple[int, int]  # (x, y) of the crop the deep distance and the sheet use


def hires_case(name: str, image: np.ndarray, seed: int, index: int,
               area: tuple[float, float] = HIRES_AREA) -> HiresCase:
    """The photo's seeded object hole; the crop centre is the centroid of
    its largest piece."""
    rng = np.random.default_rng([seed, round(area[0] * 1000), round(area[1] * 1000), index, 7])
    hole = object_mask(image.shape[0], image.shape[1], area, rng)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    big = 1 + int(np.argmax(stats[1:count, cv2.CC_STAT_AREA])) if count > 1 else 0
    cx, cy = centroids[big] if count > 1 else (image.shape[1] / 2, image.shape[0] / 2)
    return HiresCase(name, image, hole, (int(round(cx)), int(round(cy))))


def crop_box(shape: tuple[int, ...], centre: tuple[int, int], side: int = HIRES_CROP) -> tuple[slice, slice]:
    """A side x side window centred on ``centre`` (x, y), moved inside the image."""
    h, w = shape[:2]
    sy, sx = min(side, h), min(side, w)
    y0 = int(np.clip(centre[1] - sy // 2, 0, h - sy))
    x0 = int(np.clip(centre[0] - sx // 2, 0, w - sx))
    return slice(y0, y0 + sy), slice(x0, x0 + sx)


def context_box(hole: np.ndarray, context: float = 0.5, min_margin: int = 64) -> tuple[slice, slice]:
    """The holes' bounding box grown by ``context`` x its longer side (as
    ``Inpainter`` gives the network), clipped to the image: the baselines fill
    this crop, not the whole 12 MP photo (same result for Telea, whose fill
    reads only a few pixels around the hole; PatchMatch gets the same context
    as the network)."""
    ys, xs = np.nonzero(hole)
    m = max(min_margin, int(context * max(np.ptp(ys) + 1, np.ptp(xs) + 1)))
    h, w = hole.shape
    return slice(max(0, ys.min() - m), min(h, ys.max() + 1 + m)), slice(max(0, xs.min() - m), min(w, xs.max() + 1 + m))


def run_hires_baseline(name: str, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A baseline on the context crop around the holes, pasted into a copy of the photo."""
    box = context_box(hole)
    out = image.copy()
    out[box] = run_baseline(name, np.ascontiguousarray(image[box]), np.ascontiguousarray(hole[box]))
    return out


def evaluate_hires(inpainter, cases: Iterable[HiresCase], baselines: Sequence[str] = HIRES_BASELINES,
                   crop: int = HIRES_CROP, deep="auto", keep_crops: bool = True,
                   progress: Callable[[str], None] | None = None) -> dict:
    """The high-resolution check: every method fills each full-size photo;
    PSNR / SSIM / L1 and the deep distance on the ``crop`` x ``crop`` window
    centred on the hole (100 % zoom, no resizing), the sharpness ratio over
    the whole hole at full resolution, seconds per photo. ``crops`` (unless
    ``keep_crops`` is false): per case, {column: RGB window} for
    ``hires_sheet``. ``cases`` may be a generator (photos are read one at a time)."""
    judge, deep_note = resolve_deep(deep)
    methods = list(MODEL_METHODS) + list(baselines)
    per_case, crops = [], []
    times: dict[str, list[float]] = {m: [] for m in methods}
    for i, case in enumerate(cases):
        t0 = time.perf_counter()
        res = inpainter(case.image, case.hole)
        model_s = time.perf_counter() - t0
        times["refined"].append(model_s)
        times["coarse"].append(model_s)
        out = {"refined": res.refined, "coarse": res.coarse}
        for name in baselines:
            t0 = time.perf_counter()
            out[name] = run_hires_baseline(name, case.image, case.hole)
            times[name].append(time.perf_counter() - t0)
        box = crop_box(case.image.shape, case.centre, crop)
        truth_c, hole_c = case.image[box], case.hole[box]
        scores = {}
        for m in methods:
            o = out[m][box]
            scores[m] = {"psnr": psnr(o, truth_c), "ssim": ssim(o, truth_c), "l1": l1(o, truth_c),
                         "sharpness": sharpness_ratio(out[m], case.image, case.hole)}
        if judge is not None:
            for m, d in judge.distances({m: np.ascontiguousarray(out[m][box]) for m in methods},
                                        np.ascontiguousarray(truth_c)).items():
                scores[m]["deep"] = d
        h, w = case.image.shape[:2]
        per_case.append({"name": case.name, "size": [w, h], "area": float(case.hole.mean()),
                         "crop": [int(box[1].start), int(box[0].start), int(box[1].stop), int(box[0].stop)],
                         "crop_hole_fraction": float(hole_c.mean()), "model_s": model_s, "scores": scores})
        if keep_crops:
            tiles = {m: out[m][box].copy() for m in methods} | {"truth": truth_c.copy(), "hole": hole_c.copy()}
            crops.append(tiles)
        if progress is not None:
            s = scores
            progress(f"{case.name} {w}x{h}, hole {case.hole.mean() * 100:.1f} %: refined deep "
                     f"{s['refined'].get('deep', float('nan')):.3f} sharp {s['refined']['sharpness']:.2f}, "
                     f"{model_s:.1f} s")
    if not per_case:
        raise ValueError("no photos for the high-resolution check")
    results = {
        "methods": methods,
        "crop": crop,
        "count": len(per_case),
        "table": {m: _mean_scores([c["scores"][m] for c in per_case]) for m in methods},
        "time_s": {m: float(np.mean(t)) for m, t in times.items()},
        "notes": [deep_note] if deep_note else [],
        "cases": per_case,
    }
    if keep_crops:
        results["crops"] = crops
    return results


def format_hires(results: dict) -> str:
    """The high-resolution check as text: per photo the refined figures,
    then the mean of every method."""
    head = f"{'method':<14}" + "".join(f"{h:>{w}}" for _, h, w, _ in _COLUMNS)
    lines = [f"high-resolution check: {results['count']} photos, object holes, "
             f"{results['crop']}² hole-centred crop (PSNR/SSIM/L1/deep), sharpness over the whole hole",
             head + f"{'s/photo':>9}", "-" * (len(head) + 9)]
    for m in results["methods"]:
        s = results["table"][m]
        lines.append(f"{LABELS.get(m, m):<14}" + "".join(f"{_cell(s, k, f):>{w}}" for k, _, w, f in _COLUMNS)
                     + f"{results['time_s'][m]:>9.2f}")
    lines.append("per photo (deep / sharp):")
    for c in results["cases"]:
        cells = "  ".join(f"{LABELS.get(m, m)} {_cell(c['scores'][m], 'deep', '.3f')}/"
                          f"{c['scores'][m]['sharpness']:.2f}" for m in results["methods"])
        lines.append(f"  {c['name']} {c['size'][0]}x{c['size'][1]} hole {c['area'] * 100:.1f} %: {cells}")
    lines += results.get("notes", [])
    return "\n".join(lines)


def format_hires_markdown(results: dict) -> str:
    lines = ["| method | PSNR (dB) | SSIM | L1 | deep distance | sharpness | s / photo |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m in results["methods"]:
        s = results["table"][m]
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(_cell(s, k, f) for k, _, _, f in _COLUMNS)
                     + f" | {results['time_s'][m]:.2f} |")
    return "\n".join(lines)


def hires_sheet(results: dict, path: str | Path | None = None,
                columns: Sequence[str] = HIRES_COLUMNS) -> np.ndarray:
    """One row per photo of hole-centred crops at 100 % zoom (no resizing):
    input (the hole tinted red), each method, truth; each fill captioned
    with its deep distance and sharpness ratio. Written as PNG when ``path``
    is given."""
    crop = results["crop"]
    columns = [c for c in columns if c in ("input", "truth") or c in results["methods"]]
    rows = []
    for case, tiles in zip(results["cases"], results["crops"]):
        row = []
        for col in columns:
            if col == "input":
                img = tiles["truth"].copy()
                hole = tiles["hole"]
                img[hole] = (0.45 * img[hole] + 0.55 * np.array([255, 0, 0], np.float32)).astype(np.uint8)
            else:
                img = tiles[col]
            t = np.zeros((crop, crop, 3), np.uint8)  # photos smaller than the crop: pad
            t[:img.shape[0], :img.shape[1]] = img
            if col == "input":
                _caption(t, f"{case['name'][:28]} {case['size'][0]}x{case['size'][1]}", 16)
            elif col != "truth":
                s = case["scores"][col]
                _caption(t, f"deep {_cell(s, 'deep', '.3f')}  sharp {s['sharpness']:.2f}", crop - 6)
            row.append(t)
        rows.append(np.hstack(row))
    titles = {"input": "input (hole in red), 100 %"} | LABELS | {"truth": "truth"}
    return _titled_sheet(rows, [titles.get(c, c) for c in columns], crop, path)


# ------------------------------------------------------------------- cli

def add_cli(sub: argparse._SubParsersAction) -> None:
    from .cli import add_device_weights

    p = sub.add_parser("eval", help="compare the model with classical fills (PSNR, SSIM, L1 per hole-area bin)")
    p.add_argument("images", nargs="?", type=Path, help="folder of photos (or use --builtin)")
    p.add_argument("--builtin", action="store_true",
                   help="use the photos bundled with scikit-image, scikit-learn and matplotlib")
    p.add_argument("--masks", type=Path, help="folder of mask files (white = hole) instead of generated masks")
    p.add_argument("--bins", default=DEFAULT_BINS, help=f"hole-area bins in %% (default {DEFAULT_BINS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated masks (default 0)")
    p.add_argument("--per-bin", type=int, help="cases per bin (default: one per photo)")
    p.add_argument("--baselines", help=f"classical fills to compare with (default {','.join(BASELINES)}; "
                                       f"with --hires {','.join(HIRES_BASELINES)})")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--sheet", type=Path, help="write a comparison sheet PNG here")
    p.add_argument("--size", type=int, default=EVAL_SIZE, help=f"square side of the test images (default {EVAL_SIZE})")
    p.add_argument("--held-out", action="store_true",
                   help="only the photos of IMAGES_DIR the trainer holds out for validation (searched "
                        "recursively, as the trainer does): tune settings there, not on the test photos")
    p.add_argument("--run-size", type=int, help="longest crop side the network sees (default: the model's)")
    p.add_argument("--scales", type=_scales_arg, help="e.g. 1,0.5,0.25: fill at these fractions of the run "
                                                      "size and average (default: the model's)")
    p.add_argument("--hires", action="store_true",
                   help="high-resolution check instead of the bins: the photos of IMAGES_DIR (with "
                        "--held-out: the validation ones) at full size, one seeded object-shaped hole "
                        "(2-8 %% of the area) each; deep distance on a 512² hole-centred crop, sharpness "
                        "over the whole hole; --sheet writes the crops at 100 %% zoom")
    p.add_argument("--no-deep", action="store_true", help="leave out the deep distance (faster)")
    add_device_weights(p)
    p.set_defaults(func=run_eval)


def _scales_arg(text: str) -> tuple[float, ...]:
    from .network import parse_scales

    try:
        return parse_scales(text)
    except ValueError as exc:  # argparse shows this message, not a generic one
        raise argparse.ArgumentTypeError(str(exc)) from None


def held_out_paths(folder: str | Path) -> tuple[list[Path], list[str]]:
    """The photo files the trainer keeps for validation when trained on ``folder``."""
    from .data import scan_photos, split_validation

    scan = scan_photos(folder)
    _, held_out = split_validation(scan.usable)
    return held_out, [f"{p}: {why}" for p, why in scan.skipped]


def held_out_images(folder: str | Path) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """The photos the trainer keeps for validation when trained on ``folder``."""
    from .imageio import read_image

    paths, skipped = held_out_paths(folder)
    return [(p.stem, read_image(p)) for p in paths], skipped


def inpainter_options(args: argparse.Namespace) -> dict:
    """The ``Inpainter`` keyword arguments that eval's flags choose (None =
    the model's own setting). A new inference option gets its flag in
    ``add_cli`` and its entry here; the results record these."""
    return {"model_size": args.run_size, "scales": args.scales, "texture": args.texture == "on"}


def build_inpainter(args: argparse.Namespace):
    """The one place eval builds the model, for the bins and --hires alike
    (``--weights``, ``--device`` and ``inpainter_options``); None after
    printing why it cannot be loaded."""
    from .inference import Inpainter

    try:
        return Inpainter(args.weights, args.device, **inpainter_options(args))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _weights_info(inpainter) -> dict:
    path = inpainter.weights_path
    shown = path
    if path and Path(path).resolve().is_relative_to(Path.cwd()):
        shown = Path(path).resolve().relative_to(Path.cwd())  # repo-relative in committed results
    info = {"weights": str(shown) if path else None, "meta": inpainter.meta}
    if path:
        info["weights_sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return info


def run_eval(args: argparse.Namespace) -> int:
    if (args.images is None) == (not args.builtin):
        print("error: give a folder of photos or --builtin (one of them)", file=sys.stderr)
        return 2
    if args.held_out and args.images is None:
        print("error: --held-out needs the training folder", file=sys.stderr)
        return 2
    if args.hires and (args.images is None or args.masks):
        print("error: --hires needs a folder of photos (and generates its own masks)", file=sys.stderr)
        return 2
    default_baselines = HIRES_BASELINES if args.hires else BASELINES
    try:
        bins = area_bins(args.bins)
        baselines, notes = available_baselines((args.baselines or ",".join(default_baselines)).split(","))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    if args.images is not None and not args.images.is_dir():
        print(f"error: {args.images} is not a folder", file=sys.stderr)
        return 2
    if args.hires:
        return _run_hires(args, baselines, notes)

    if args.builtin:
        images, skipped = builtin_eval_images(), []
    elif args.held_out:
        images, skipped = held_out_images(args.images)
    else:
        images, skipped = folder_images(args.images)
    for msg in skipped:
        print(f"skipped {msg}", file=sys.stderr)
    if not images:
        print("error: no usable photos", file=sys.stderr)
        return 1

    if args.masks:
        cases, unused = cases_from_masks(images, folder_masks(args.masks), bins, args.per_bin, args.size)
        if unused:
            print(f"{len(unused)} mask(s) unused (area outside the bins, or the bin was full)", file=sys.stderr)
    else:
        cases = make_cases(images, bins, args.seed, args.per_bin, size=args.size)
    if not cases:
        print("error: no cases", file=sys.stderr)
        return 1

    inpainter = build_inpainter(args)
    if inpainter is None:
        return 2
    rows = sheet_rows(cases) if args.sheet else []  # keep only these cases' images (memory)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():  # a live counter; logs get no carriage-return noise
            print(f"\r{done}/{total} cases", end="\n" if done == total else "", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    results = evaluate_cases(inpainter, cases, baselines, keep_outputs=rows, progress=progress,
                             deep=None if args.no_deep else "auto")
    results = {"images": [name for name, _ in images], "size": args.size,
               "run_size": inpainter.model_size, "scales": list(inpainter.scales),
               "masks": str(args.masks) if args.masks else f"generated {'+'.join(EVAL_KINDS)}, seed {args.seed}",
               "device": str(inpainter.device), "options": inpainter_options(args), **_weights_info(inpainter),
               "left_out": notes, "wall_s": time.perf_counter() - t0, **results}
    print(f"weights: {results['weights']} {results['meta'] or ''}  device: {results['device']}  "
          f"run size {inpainter.model_size}, scales {','.join(map(str, inpainter.scales))}  "
          f"{len(images)} photos, {len(cases)} cases at {args.size}x{args.size}")
    print(format_table(results))
    print(f"eval took {results['wall_s']:.0f} s")
    if args.json:
        print(f"wrote {write_json(results, args.json)}")
    if args.sheet:
        columns = [c for c in SHEET_COLUMNS if c not in BASELINES or c in baselines]
        comparison_sheet([cases[i] for i in rows], results["outputs"], args.sheet, columns,
                         scores=[results["cases"][i] for i in rows])
        print(f"wrote {args.sheet}")
    return 0


def _run_hires(args: argparse.Namespace, baselines: list[str], notes: list[str]) -> int:
    """``eval DIR --hires [--held-out]``: the high-resolution check."""
    from .imageio import ImageReadError, is_image_file, read_image

    if args.held_out:
        paths, skipped = held_out_paths(args.images)
    else:
        paths = [p for p in sorted(args.images.iterdir()) if p.is_file() and is_image_file(p)]
        skipped = []
    for msg in skipped:
        print(f"skipped {msg}", file=sys.stderr)
    if args.per_bin:
        paths = paths[:args.per_bin]
    if not paths:
        print("error: no usable photos", file=sys.stderr)
        return 1
    inpainter = build_inpainter(args)
    if inpainter is None:
        return 2

    def cases():  # one full-size photo in memory at a time
        for k, path in enumerate(paths):
            try:
                image = read_image(path)
            except ImageReadError as exc:
                print(f"skipped {exc}", file=sys.stderr)
                continue
            yield hires_case(path.stem, image, args.seed, k)

    t0 = time.perf_counter()
    results = evaluate_hires(inpainter, cases(), baselines, deep=None if args.no_deep else "auto",
                             keep_crops=bool(args.sheet), progress=lambda msg: print(msg, file=sys.stderr))
    results = {"photos": [str(p.name) for p in paths], "held_out": bool(args.held_out),
               "masks": f"object blobs {HIRES_AREA[0] * 100:g}-{HIRES_AREA[1] * 100:g} % of the area, seed {args.seed}",
               "run_size": inpainter.model_size, "scales": list(inpainter.scales),
               "device": str(inpainter.device), "options": inpainter_options(args), **_weights_info(inpainter),
               "left_out": notes, "wall_s": time.perf_counter() - t0, **results}
    print(f"weights: {results['weights']} {results['meta'] or ''}  device: {results['device']}")
    print(format_hires(results))
    print(f"high-resolution check took {results['wall_s']:.0f} s")
    if args.json:
        print(f"wrote {write_json({k: v for k, v in results.items() if k != 'crops'}, args.json)}")
    if args.sheet:
        hires_sheet(results, args.sheet, [c for c in HIRES_COLUMNS if c not in BASELINES or c in baselines])
        print(f"wrote {args.sheet}")
    return 0
