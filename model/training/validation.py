"""Validation during training: fixed cases from the held-out photos, scored
through the one inference path and the evaluation's measures, with a preview
sheet. (``model.evaluation`` is imported only when validation runs.)"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..inference import Inpainter
from ..network import InpaintNet


@dataclass
class Validation:
    psnr: float
    ssim: float
    preview: Path
    extra: dict[str, float]  # the measures logged beside PSNR / SSIM, named val_*


def validation_cases(photos: list[Path], size: int, per_bin: int = 4) -> list:
    """Fixed cases: centre crops of up to ``per_bin`` held-out photos, one
    seeded mask each in every 10-50 % hole-area bin (the eval's cases)."""
    from ..evaluation.cases import make_cases
    from ..photos.imageio import read_image

    return make_cases([(p.stem, read_image(p)) for p in photos[:per_bin]], seed=1234, size=size)


PREVIEW_ROWS = 4


def validate_network(net: InpaintNet, cases: list, preview: Path, tile: int) -> Validation:
    """Mean PSNR / SSIM of the network's refined result on ``cases`` (what
    selects the best checkpoint) and a preview sheet written to
    ``preview``: up to PREVIEW_ROWS cases from different bins as the app
    shows them, the texture step included. ``extra`` holds the network's
    deep distance and sharpness ratio (hole gradient energy of the fill /
    of the truth, 1 = as detailed) and the coarse one's sharpness ratio
    over all cases, and, with the texture step, the app's refined PSNR,
    deep distance and sharpness on the preview's cases (``val_preview_*``).
    The caller puts ``net`` in eval mode."""
    from ..evaluation.report import evaluate_cases
    from ..evaluation.sheets import comparison_sheet, sheet_rows
    from .. import texture

    rows = sheet_rows(cases, PREVIEW_ROWS)
    textured = texture.available()
    # Selection scores the network alone: the texture step is not trained and
    # would make every validation several times slower. Its preview images are
    # kept only when the textured run below does not replace them.
    results = evaluate_cases(Inpainter.from_network(net, texture=False), cases,
                             keep_outputs=0 if textured else rows)
    table = results["table"]["all"]
    overall = table["refined"]
    # logged beside PSNR / SSIM (eval-only judges: the deep distance is never a loss)
    extra = {f"val_{k}": overall[k] for k in ("deep", "sharpness") if k in overall}
    extra["val_sharpness_coarse"] = table["coarse"]["sharpness"]
    shown_cases = [cases[i] for i in rows]
    if textured:
        # The preview shows what the app will make of these weights: coarse
        # next to the textured refined fill, not two near-identical images.
        app = evaluate_cases(Inpainter.from_network(net), shown_cases, keep_outputs=len(shown_cases))
        outputs, scores = app["outputs"], app["cases"]
        extra |= {f"val_preview_{k}": v for k, v in app["table"]["all"]["refined"].items()
                  if k in ("psnr", "deep", "sharpness")}
    else:
        outputs, scores = results["outputs"], [results["cases"][i] for i in rows]
    comparison_sheet(shown_cases, outputs, preview, columns=("input", "mask", "coarse", "refined", "truth"),
                     tile=tile, scores=scores)
    return Validation(overall["psnr"], overall["ssim"], preview, extra)
