"""A labelled check of the Select Object tool (``model.selection``): IoU of
box and scribble selection against known masks.

    python -m benchmarks.selection [--json OUT.json] [--sheet OUT.png] [--size 800]

The cases: objects with known masks pasted onto the photos bundled with
scikit-image, scikit-learn and matplotlib (eval-only photos, never trained
on). Each object's shape is drawn here (a rock, a dragonfly with four thin
wings, a person in two colours) or is scikit-image's horse silhouette, and
its surface is a texture cut from another of the photos, tinted. Every shape
comes twice: in one tone, and two-tone, half-lit (the half of the object on
one side of a line through it is in sunlight, the other in a shade about as
dark as, and tinted like, the shadows around it: a strong light/shade edge
across the object and a weak one between the shade and the surroundings,
the case where a box used to take only the sunlit half). The box is the object's bounding box plus a loose margin;
the scribble is a zigzag along the object's long axis, inside it. IoU is of
the selection without its safety growth (``grow=0``) against the pasted
mask. Seeded: the same cases every run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.evaluation.cases import builtin_eval_images
from model.selection import select_object

SHAPES = ("rock", "dragonfly", "person", "horse")


@dataclass
class Case:
    name: str
    image: np.ndarray
    truth: np.ndarray
    box: tuple[float, float, float, float]
    scribble: np.ndarray
    two_tone: bool


def _shape(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """A bool silhouette of about ``side`` px (its longer side)."""
    canvas = np.zeros((side, side), np.uint8)
    c = side // 2
    if kind == "rock":  # a lumpy blob, wider than high
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        radius = (0.42 + 0.06 * rng.standard_normal(24)).clip(0.3, 0.5) * side
        pts = np.stack([c + radius * np.cos(angles), c + 0.7 * radius * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)
        canvas = cv2.morphologyEx(canvas, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    elif kind == "dragonfly":  # a thin body and four long thin wings
        cv2.ellipse(canvas, (c, c), (side // 28, side * 9 // 20), 0, 0, 360, 1, -1)
        cv2.circle(canvas, (c, c - side * 9 // 20), side // 20, 1, -1)
        for dy, length in ((-side // 5, side * 9 // 20), (-side // 10, side * 2 // 5)):
            for sign in (-1, 1):
                centre = (c + sign * length // 2, c + dy)
                cv2.ellipse(canvas, centre, (length // 2, side // 22), sign * 8, 0, 360, 1, -1)
    elif kind == "person":  # head, body, legs (painted in two colours below)
        cv2.circle(canvas, (c, side // 8), side // 12, 1, -1)
        cv2.ellipse(canvas, (c, side * 2 // 5), (side // 7, side // 4), 0, 0, 360, 1, -1)
        cv2.rectangle(canvas, (c - side // 9, side * 3 // 5), (c - side // 60, side * 19 // 20), 1, -1)
        cv2.rectangle(canvas, (c + side // 60, side * 3 // 5), (c + side // 9, side * 19 // 20), 1, -1)
    elif kind == "horse":
        from skimage.data import horse
        silhouette = (~horse()).astype(np.uint8)  # the file is a black horse on white
        scale = side / max(silhouette.shape)
        size = (round(silhouette.shape[1] * scale), round(silhouette.shape[0] * scale))
        silhouette = cv2.resize(silhouette, size, interpolation=cv2.INTER_NEAREST)
        canvas[:size[1], :size[0]] = silhouette
    ys, xs = np.nonzero(canvas)
    return canvas[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(bool)


def _texture(source: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A grey texture of h x w in about [0.75, 1.25], cut from a photo."""
    sh, sw = source.shape[:2]
    scale = max(h / sh, w / sw, 1.0)
    if scale > 1:
        source = cv2.resize(source, (int(sw * scale) + 1, int(sh * scale) + 1))
        sh, sw = source.shape[:2]
    y, x = rng.integers(0, sh - h + 1), rng.integers(0, sw - w + 1)
    grey = cv2.cvtColor(source[y:y + h, x:x + w], cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = (grey - grey.mean()) / (grey.std() + 1e-3)
    return 1 + 0.12 * grey.clip(-2, 2)


def _paint(kind: str, shape: np.ndarray, texture: np.ndarray, ambient: np.ndarray | None,
           rng: np.random.Generator) -> np.ndarray:
    """The object's RGB (float) over its silhouette's box; with ``ambient``
    (the surroundings' colour), two-tone: one side sunlit, the other in a
    shade about as dark as, and tinted like, the shadows around it."""
    h, w = shape.shape
    palette = {"rock": (150, 135, 115), "dragonfly": (40, 90, 150), "person": (190, 60, 50),
               "horse": (120, 80, 50)}
    colour = np.empty((h, w, 3), np.float32)
    colour[:] = palette[kind]
    if kind == "dragonfly":  # pale wings, dark body
        body = np.zeros((h, w), np.uint8)
        cv2.ellipse(body, (w // 2, h // 2), (max(2, w // 28), h // 2), 0, 0, 360, 1, -1)
        colour[~body.astype(bool)] = (200, 205, 190)
    if kind == "person":  # dark trousers
        colour[int(h * 0.62):] = (45, 50, 75)
    out = colour * texture[..., None]
    if ambient is not None:
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        ys, xs = np.nonzero(shape)
        side = (x - xs.mean()) * np.cos(angle) + (y - ys.mean()) * np.sin(angle)
        lit = cv2.GaussianBlur((side > 0).astype(np.float32), (0, 0), 1.5)[..., None]
        sun = out * 1.2 + np.array([35, 25, 5], np.float32)
        shade = 0.55 * ambient * texture[..., None]
        out = lit * sun + (1 - lit) * shade
    return out


def _scribble(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A zigzag along the object's long axis, each point inside it."""
    ys, xs = np.nonzero(truth)
    centre = np.array([xs.mean(), ys.mean()])
    cov = np.cov(np.stack([xs, ys]))
    values, vectors = np.linalg.eigh(cov)
    axis, across = vectors[:, 1], vectors[:, 0]
    along = (np.stack([xs, ys], 1) - centre) @ axis
    points = []
    for k, t in enumerate(np.linspace(np.percentile(along, 12), np.percentile(along, 88), 7)):
        near = np.abs(along - t) < 2
        if not near.any():
            continue
        offsets = (np.stack([xs[near], ys[near]], 1) - centre) @ across
        lo, hi = np.percentile(offsets, 30), np.percentile(offsets, 70)
        p = centre + t * axis + (lo if k % 2 else hi) * across
        x, y = int(round(p[0])), int(round(p[1]))
        if 0 <= y < truth.shape[0] and 0 <= x < truth.shape[1] and truth[y, x]:
            points.append((x, y))
    return np.array(points, np.float64)


def make_cases(size: int = 800, seed: int = 0) -> list[Case]:
    """Every shape, one-tone and two-tone, on every bundled photo (its longer side ``size``)."""
    photos = builtin_eval_images()
    rng = np.random.default_rng(seed)
    cases = []
    for p, (photo_name, photo) in enumerate(photos):
        scale = size / max(photo.shape[:2])
        background = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                                interpolation=cv2.INTER_AREA)
        H, W = background.shape[:2]
        kind = SHAPES[p % len(SHAPES)]
        for two_tone in (False, True):
            side = int(rng.uniform(0.3, 0.5) * min(H, W))
            shape = _shape(kind, side, rng)
            h, w = shape.shape
            texture_source = photos[(p + 3) % len(photos)][1]
            y0, x0 = rng.integers(0, H - h), rng.integers(0, W - w)
            around = background[max(0, y0 - h // 4):y0 + h + h // 4, max(0, x0 - w // 4):x0 + w + w // 4]
            ambient = np.median(around.reshape(-1, 3), axis=0).astype(np.float32) if two_tone else None
            paint = _paint(kind, shape, _texture(texture_source, h, w, rng), ambient, rng)
            truth = np.zeros((H, W), bool)
            truth[y0:y0 + h, x0:x0 + w] = shape
            alpha = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 0.8)[..., None]  # anti-aliased edge
            layer = np.zeros((H, W, 3), np.float32)
            layer[y0:y0 + h, x0:x0 + w] = paint
            image = np.clip(alpha * layer + (1 - alpha) * background, 0, 255).astype(np.uint8)
            margin = rng.uniform(0.04, 0.12)
            box = (max(0.0, x0 - margin * w), max(0.0, y0 - margin * h),
                   min(W, x0 + w + margin * w), min(H, y0 + h + margin * h))
            cases.append(Case(f"{photo_name.split('/')[-1]}/{kind}{'/two-tone' if two_tone else ''}",
                              image, truth, box, _scribble(truth, rng), two_tone))
    return cases


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def run(cases: list[Case]) -> list[dict]:
    rows = []
    for case in cases:
        t0 = time.perf_counter()
        by_box = select_object(case.image, box=case.box, grow=0)
        t1 = time.perf_counter()
        by_scribble = select_object(case.image, scribble=case.scribble, scribble_radius=6, grow=0)
        t2 = time.perf_counter()
        rows.append({"case": case.name, "two_tone": case.two_tone, "box": iou(by_box, case.truth),
                     "scribble": iou(by_scribble, case.truth), "box_s": t1 - t0, "scribble_s": t2 - t1,
                     "masks": (by_box, by_scribble)})
    return rows


def summary(rows: list[dict]) -> str:
    lines = [f"{'case':34s} {'box':>6s} {'scribble':>8s}"]
    lines += [f"{r['case']:34s} {r['box']:6.3f} {r['scribble']:8.3f}" for r in rows]
    for label, keep in (("one-tone", False), ("two-tone", True), ("all", None)):
        part = [r for r in rows if keep is None or r["two_tone"] == keep]
        lines.append(f"mean IoU {label:9s} ({len(part):2d} cases): box {statistics.mean(r['box'] for r in part):.3f}, "
                     f"scribble {statistics.mean(r['scribble'] for r in part):.3f}")
    lines.append(f"median time: box {statistics.median(r['box_s'] for r in rows):.2f} s, "
                 f"scribble {statistics.median(r['scribble_s'] for r in rows):.2f} s")
    return "\n".join(lines)


def sheet(cases: list[Case], rows: list[dict], path: Path, tile: int = 260) -> None:
    """Each case: the photo with the box (green) and scribble (yellow), the
    box's selection and the scribble's (red outline; truth in blue)."""
    out_rows = []
    for case, row in zip(cases, rows):
        tiles = []
        base = case.image.copy()
        x0, y0, x1, y1 = (int(v) for v in case.box)
        cv2.rectangle(base, (x0, y0), (x1, y1), (0, 255, 0), 2)
        cv2.polylines(base, [case.scribble.astype(np.int32).reshape(-1, 1, 2)], False, (255, 230, 0), 3)
        tiles.append(base)
        for mask in row["masks"]:
            view = case.image.copy()
            for m, colour in ((case.truth, (40, 120, 255)), (mask, (255, 40, 40))):
                contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(view, contours, -1, colour, 2)
            tiles.append(view)
        scale = tile / max(case.image.shape[:2])
        size = (round(case.image.shape[1] * scale), round(case.image.shape[0] * scale))
        resized = [cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in tiles]
        padded = [np.pad(t, ((0, tile - t.shape[0]), (0, tile - t.shape[1] + 4), (0, 0)), constant_values=255)
                  for t in resized]
        strip = np.concatenate(padded, 1)
        cv2.putText(strip, f"{case.name}  box {row['box']:.2f}  scribble {row['scribble']:.2f}", (4, 16),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        out_rows.append(strip)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(out_rows, 0), cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=800, help="longer side of the photos (default 800)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the objects and their places (default 0)")
    parser.add_argument("--json", type=Path, help="write the per-case IoU here")
    parser.add_argument("--sheet", type=Path, help="write a sheet of the selections (PNG) here")
    args = parser.parse_args()
    cases = make_cases(args.size, args.seed)
    rows = run(cases)
    print(summary(rows))
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "masks"} for r in rows], indent=1))
    if args.sheet:
        sheet(cases, rows, args.sheet)
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
