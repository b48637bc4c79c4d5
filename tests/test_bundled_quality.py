"""The bundled weights' regression floor: a few of the documented eval cases
(docs/eval_default.json, made by ``main.py eval --builtin --bins
10-20,20-30,30-40,40-50 --seed 0``) are run again and must score no worse than
the figures published for them, so a change that degrades the model or the
texture step, or new weights without new figures, cannot pass unnoticed."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from model.evaluation.cases import builtin_eval_images, make_cases
from model.evaluation.report import evaluate_cases
from model.inference import Inpainter
from model.paths import BUNDLED_WEIGHTS

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "eval_default.json"
BINS = ("10-20", "30-40")
PER_BIN = 3
PSNR_SLACK = 0.25  # dB below the published mean of these cases
DEEP_SLACK = 0.02  # deep distance above it


def test_bundled_weights_hold_their_published_eval_figures():
    pytest.importorskip("efficientnet_lite_pytorch", reason="the deep distance needs the eval extra")
    reference = json.loads(REFERENCE.read_text())
    sha = hashlib.sha256(BUNDLED_WEIGHTS.read_bytes()).hexdigest()[:16]
    assert reference["weights_sha256"] == sha, (
        "resources/default.pt changed: regenerate docs/eval_default.json with main.py eval (see docs/eval.md)")
    published = {(c["name"], c["bin"]): c["scores"]["refined"] for c in reference["cases"]}
    cases = make_cases(builtin_eval_images(), ",".join(BINS), seed=0, per_bin=PER_BIN, size=reference["size"])
    result = evaluate_cases(Inpainter(device="cpu"), cases)
    assert not result["notes"], result["notes"]
    for label in BINS:
        rows = [r for r in result["cases"] if r["bin"] == label]
        assert len(rows) == PER_BIN
        ref = [published[(r["name"], label)] for r in rows]  # the same cases: same photos, same seeded holes
        got_psnr = np.mean([r["scores"]["refined"]["psnr"] for r in rows])
        got_deep = np.mean([r["scores"]["refined"]["deep"] for r in rows])
        ref_psnr, ref_deep = np.mean([s["psnr"] for s in ref]), np.mean([s["deep"] for s in ref])
        assert got_psnr >= ref_psnr - PSNR_SLACK, f"{label}: refined PSNR {got_psnr:.2f} < published {ref_psnr:.2f}"
        assert got_deep <= ref_deep + DEEP_SLACK, f"{label}: refined deep {got_deep:.3f} > published {ref_deep:.3f}"
