"""Comparison sheets: a labelled grid of input, mask, each method's fill and
the truth per case (``comparison_sheet``), and 100 % crops of the
full-resolution check (``hires_sheet``)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..masks import user_mask_from_hole
from .cases import Case
from .report import LABELS, format_cell

# ------------------------------------------------------------ sheet

SHEET_COLUMNS = ("input", "mask", "telea", "coarse", "refined", "truth")
_COLUMN_TITLES = {"input": "input + mask", "mask": "mask", "truth": "truth"} | LABELS


def sheet_columns(columns: Sequence[str], methods: Sequence[str], ours: Sequence[str]) -> list[str]:
    """A sheet's default ``columns`` (the truth last) for the ``methods``
    scored: each method's column where it was scored, and the model's own
    outputs ``ours`` (the result first) before the truth where the default
    has no column for them (a filler other than the network)."""
    kept = [c for c in columns if c not in LABELS or c in methods]
    extra = [m for m in reversed(ours) if m not in kept]
    return kept[:-1] + extra + kept[-1:]


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
                img = np.repeat(user_mask_from_hole(case.hole)[..., None], 3, axis=2)
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
HIRES_COLUMNS = ("input", "telea", "patchmatch", "coarse", "refined", "truth")


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
                _caption(t, f"deep {format_cell(s, 'deep', '.3f')}  sharp {s['sharpness']:.2f}", crop - 6)
            row.append(t)
        rows.append(np.hstack(row))
    titles = {"input": "input (hole in red), 100 %"} | LABELS | {"truth": "truth"}
    return _titled_sheet(rows, [titles.get(c, c) for c in columns], crop, path)
