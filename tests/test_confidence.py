"""Confidence scores for the batch review: deliberately broken fills rank first."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from model.confidence import fill_confidence
from model.fill.base import Filler
from test_watermark import random_photo


class BreakSome(Filler):
    """The real model, except that for the photos named in ``broken`` the fill
    is replaced by a flat colour (what a failed removal can look like)."""

    def __init__(self, inpainter, broken: dict[int, tuple[int, int, int]]):
        self.inpainter, self.broken, self.calls = inpainter, broken, 0

    def __call__(self, image, hole, should_stop=None):
        result = self.inpainter(image, hole)
        key = int(image[0, 0].sum()) % 1_000_003  # which photo this is (set in the test)
        if key in self.broken:
            for arr in (result.coarse, result.refined):
                arr[hole] = self.broken[key]
        self.calls += 1
        return result


def test_flat_fill_scores_low_and_good_fill_high():
    rng = np.random.default_rng(0)
    image = random_photo(rng, 160, 200)
    hole = np.zeros((160, 200), bool)
    hole[50:100, 60:130] = True
    import cv2
    good = cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    flat = image.copy()
    flat[hole] = (128, 128, 128)
    red = image.copy()
    red[hole] = (250, 20, 20)
    scores = {name: fill_confidence(image, hole, out) for name, out in
              (("telea", good), ("flat", flat), ("red", red))}
    assert scores["telea"] > scores["flat"] and scores["telea"] > scores["red"], scores
    assert 0 < min(scores.values()) <= max(scores.values()) <= 1
    assert fill_confidence(image, np.zeros_like(hole), image) == 1.0
    # big photos are judged on a reduced copy at the same ranking
    big = cv2.resize(image, (2000, 1600), interpolation=cv2.INTER_CUBIC)
    big_hole = cv2.resize(hole.astype(np.uint8), (2000, 1600), interpolation=cv2.INTER_NEAREST).astype(bool)
    big_flat = big.copy()
    big_flat[big_hole] = 128
    big_good = cv2.inpaint(big, big_hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    assert fill_confidence(big, big_hole, big_good) > fill_confidence(big, big_hole, big_flat)


def test_batch_report_ranks_broken_fills_first(tmp_path):
    from model.jobs.batch import run_batch
    from model.jobs.options import BatchOptions
    from model.inference import Inpainter

    rng = np.random.default_rng(7)
    src = tmp_path / "shop"
    src.mkdir()
    broken = {}
    for i in range(8):
        img = random_photo(rng, 144, 192)
        img[0, 0] = (i, 0, 0)  # a tag the wrapper recognises
        if i in (2, 5):
            broken[int(img[0, 0].sum())] = tuple(int(v) for v in rng.integers(0, 255, 3))
        Image.fromarray(img).save(src / f"p{i:02d}.png")
    mask = np.zeros((144, 192), np.uint8)
    mask[40:90, 70:140] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    report = tmp_path / "report.json"
    model = BreakSome(Inpainter(device="cpu"), broken)
    summary = run_batch(BatchOptions(input_dir=src, output_dir=tmp_path / "out", mask=tmp_path / "mask.png",
                                     report=report), model)
    assert summary.done == 8 and model.calls == 8
    files = json.loads(report.read_text())["files"]
    assert all(0 < f["confidence"] <= 1 for f in files)
    ranked = sorted(files, key=lambda f: f["confidence"])
    worst = {f["relpath"] for f in ranked[:2]}
    assert worst == {"p02.png", "p05.png"}, [(f["relpath"], f["confidence"]) for f in ranked]


def test_the_scores_cost_is_bounded_for_many_specks(monkeypatch):
    """A field of dust specks was judged speck by speck (93,750 of them on a
    3000 x 2000 photo: 23 s). The largest regions are judged one by one and
    the rest as one, and a bad region among them still decides the score."""
    import model.confidence as confidence

    rng = np.random.default_rng(1)
    image = random_photo(rng, 400, 600)
    hole = np.zeros((400, 600), bool)
    for dy in range(5):
        for dx in range(5):
            hole[3 + dy::12, 3 + dx::12] = True  # 1,650 specks of 25 px (above MIN_REGION)
    hole[150:250, 250:350] = True  # and one object
    refined = image.copy()
    refined[hole] = cv2_blur(image)[hole]
    calls = []
    real = confidence.region_terms
    monkeypatch.setattr(confidence, "region_terms", lambda *a, **k: calls.append(1) or real(*a, **k))
    good = fill_confidence(image, hole, refined)
    assert len(calls) <= confidence.MAX_REGIONS + 1
    broken = refined.copy()
    broken[150:250, 250:350] = (250, 20, 20)
    assert fill_confidence(image, hole, broken) < 0.5 * good


def cv2_blur(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 3)
