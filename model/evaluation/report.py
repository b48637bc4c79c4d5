"""Evaluation: the model against classical fills, per hole-area bin.

``python main.py eval`` (``model/cli/eval.py``; docs/eval.md). Every method
fills the same cases (``cases``); PSNR, SSIM, L1 and the deep distance
(``model.deep_distance``: EfficientNet-Lite0 features, eval-only) are taken
over the whole image (known pixels included), as in the paper's Table 1; the
sharpness ratio (``metrics.sharpness_ratio``) over the hole only. The model
is run through ``Inpainter`` (the one inference path), so what is measured is
what the app does. ``evaluate_hires``: full-resolution photos, scored on a
512² hole-centred crop.

From Python (the trainer's validation): ``evaluate_cases(inpainter,
make_cases(images, bins, seed, per_bin))`` -> dict; ``format_table(results)``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..metrics import l1, psnr, sharpness_ratio, ssim
from .baselines import HIRES_BASELINES, baseline_fillers
from .cases import HIRES_CROP, HiresCase, crop_box
from .defaults import LABELS  # noqa: F401 (re-exported)
# Per-case scores: whole-image PSNR / SSIM / L1, the deep distance (whole
# image, model.deep_distance) and the sharpness ratio (hole only).
METRICS = ("psnr", "ssim", "l1", "deep", "sharpness")


# -------------------------------------------------------------- evaluation

def _scores(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(out, truth), "ssim": ssim(out, truth), "l1": l1(out, truth),
            "sharpness": sharpness_ratio(out, truth, hole)}


def _decade_bin(area: float) -> str:
    lo = min(9, int(area * 10)) * 10
    return f"{lo}-{lo + 10}"


def _mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in METRICS if rows and all(k in r for r in rows)}


def _methods(filler, baselines: Sequence[str]) -> tuple[list[str], list[str]]:
    """``filler``'s outputs (the result first: the network's "refined", then
    its "coarse"), and the baselines not among them: the methods scored."""
    ours = list(filler.outputs)
    return ours, [b for b in baselines if b not in ours]


def resolve_deep(deep="auto", device: str = "cpu"):
    """The deep-distance judge for ``evaluate_cases``: "auto" -> the shared
    EfficientNet-Lite0 one where its packages are installed; None -> none.
    Returns (judge or None, note or None)."""
    if deep != "auto":
        return deep, None
    from .. import deep_distance

    note = deep_distance.available()
    return (None, note) if note else (deep_distance.shared(device), None)


def evaluate_cases(inpainter, cases: Sequence, baselines: Sequence[str] = (),
                   keep_outputs: int | Iterable[int] = 0, progress: Callable[[int, int], None] | None = None,
                   deep="auto") -> dict:
    """Fill every case with the model (a ``model.fill`` filler: one call
    gives each of its outputs, e.g. the network's refined and coarse
    results) and with each of ``baselines`` (filler names, on the whole
    image); score each output against the case's image.

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
    ours, baselines = _methods(inpainter, baselines)
    methods = ours + baselines
    fillers = baseline_fillers(baselines, whole_image=True)
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
            for m in ours:
                times[m].append(model_s)
        out = {m: res.images[m] for m in ours}
        for name in baselines:
            t0 = time.perf_counter()
            out[name] = fillers[name](case.image, case.hole).image
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
        "paired": paired_differences(per_case, bins, methods, ours=methods[0]),
        "time_s": {m: float(np.mean(t)) for m, t in times.items()},
        "model_time_s": float(np.mean(times[methods[0]])),
        "notes": [deep_note] if deep_note else [],
        "cases": per_case,
    }
    if keep:
        results["outputs"] = outputs
    return results


# Measures compared case by case, and whether higher is better.
PAIRED_METRICS = {"psnr": True, "ssim": True, "deep": False}


def paired_differences(per_case: list[dict], bins: Sequence[str], methods: Sequence[str],
                       ours: str = "refined") -> dict:
    """``ours`` against every other method on the same cases, per bin and
    over all: for each of ``PAIRED_METRICS``, the mean of (ours − other), its
    standard error (sample std / √n; None for one case) and how many cases
    ours is better on. A mean within about two standard errors of 0 is a
    tie on these cases, whatever the table's means say."""
    paired: dict = {}
    for label in list(bins) + ["all"]:
        rows = [c["scores"] for c in per_case if label in ("all", c["bin"])]
        paired[label] = {}
        for other in methods:
            if other == ours:
                continue
            entry = {}
            for metric, higher_is_better in PAIRED_METRICS.items():
                if not rows or not all(metric in r[ours] and metric in r[other] for r in rows):
                    continue
                diff = np.array([r[ours][metric] - r[other][metric] for r in rows])
                se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else None
                better = int((diff > 0).sum() if higher_is_better else (diff < 0).sum())
                entry[metric] = {"mean": float(diff.mean()), "se": se, "better": better, "n": len(diff)}
            paired[label][other] = entry
    return paired


def format_paired(results: dict) -> str:
    """``results["paired"]`` as text: per bin and method, mean difference ±
    standard error and the cases where ours (the model's result, the first
    method) is better."""
    ours = results["methods"][0] if results.get("methods") else "refined"
    metrics = list(PAIRED_METRICS)
    lines = [f"{LABELS.get(ours, ours)} minus each method, case by case (mean ± standard error, "
             f"cases where {LABELS.get(ours, ours)} is better):",
             f"{'hole area %':<12}{'method':<14}" + "".join(f"{m:>22}" for m in metrics)]
    for label, others in results.get("paired", {}).items():
        for j, (other, entry) in enumerate(others.items()):
            cells = []
            for m in metrics:
                e = entry.get(m)
                if e is None:
                    cells.append(f"{'-':>22}")
                    continue
                se = "-" if e["se"] is None else f"{e['se']:.3f}"
                cells.append(f"{e['mean']:+8.3f} ± {se:>5} {e['better']:>2}/{e['n']:<2}")
            lines.append(f"{(label if j == 0 else ''):<12}{LABELS.get(other, other):<14}" + "".join(cells))
    return "\n".join(lines)


# (key, header, width, format) of the table columns; a measure missing from
# the results (the deep distance without its packages) prints as "-".
_COLUMNS = (("psnr", "PSNR dB", 9, ".2f"), ("ssim", "SSIM", 8, ".4f"), ("l1", "L1", 8, ".4f"),
            ("deep", "deep", 8, ".4f"), ("sharpness", "sharp", 7, ".2f"))


def format_cell(s: dict, key: str, fmt: str) -> str:
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
                         + "".join(f"{format_cell(s, k, f):>{w}}" for k, _, w, f in _COLUMNS)
                         + f"{results['time_s'][m]:>8.3f}{(results['counts'][label] if j == 0 else ''):>5}")
    lines.append(f"model time: {results['model_time_s']:.3f} s per image (end-to-end Inpainter call)")
    lines.append("deep: EfficientNet-Lite0 feature distance (lower is better); "
                 "sharp: hole gradient energy / the truth's (1 = as detailed)")
    lines += results.get("notes", [])
    return "\n".join(lines)


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in results.items() if k != "outputs"}  # images are not JSON
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


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
    ours, baselines = _methods(inpainter, baselines)
    methods = ours + baselines
    fillers = baseline_fillers(baselines, whole_image=False)
    per_case, crops = [], []
    times: dict[str, list[float]] = {m: [] for m in methods}
    for i, case in enumerate(cases):
        t0 = time.perf_counter()
        res = inpainter(case.image, case.hole)
        model_s = time.perf_counter() - t0
        for m in ours:
            times[m].append(model_s)
        out = {m: res.images[m] for m in ours}
        for name in baselines:
            t0 = time.perf_counter()
            out[name] = fillers[name](case.image, case.hole).image
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
            progress(f"{case.name} {w}x{h}, hole {case.hole.mean() * 100:.1f} %: {methods[0]} deep "
                     f"{s[methods[0]].get('deep', float('nan')):.3f} sharp {s[methods[0]]['sharpness']:.2f}, "
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
        lines.append(f"{LABELS.get(m, m):<14}" + "".join(f"{format_cell(s, k, f):>{w}}" for k, _, w, f in _COLUMNS)
                     + f"{results['time_s'][m]:>9.2f}")
    lines.append("per photo (deep / sharp):")
    for c in results["cases"]:
        cells = "  ".join(f"{LABELS.get(m, m)} {format_cell(c['scores'][m], 'deep', '.3f')}/"
                          f"{c['scores'][m]['sharpness']:.2f}" for m in results["methods"])
        lines.append(f"  {c['name']} {c['size'][0]}x{c['size'][1]} hole {c['area'] * 100:.1f} %: {cells}")
    lines += results.get("notes", [])
    return "\n".join(lines)
