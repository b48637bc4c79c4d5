"""The classical fills the model is compared with: OpenCV's Telea and
Navier-Stokes, PatchMatch (pypatchmatch) and scikit-image's biharmonic.
Each is ``run_baseline(name, image, hole) -> image``, the same call shape as
the model's fill; known pixels stay as they are."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .. import texture
from .cases import context_box
from .defaults import BASELINES, HIRES_BASELINES  # noqa: F401 (re-exported)

PATCHMATCH_PATCH = 3  # pypatchmatch's patch radius (7x7 patches), as in its examples
PATCHMATCH_NOTE = "PatchMatch baseline left out: the pypatchmatch library is not available here"
BIHARMONIC_NOTE = "biharmonic baseline left out: scikit-image is not installed (the optional eval extra)"


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
        from ..prefill import classical_fill  # here, not above: prefill loads torch, and eval checks its flags first

        return classical_fill(image, hole, name, radius=5)
    if name == "patchmatch":
        if not texture.available():
            raise RuntimeError(PATCHMATCH_NOTE)
        return texture.patch_fill(image, hole, PATCHMATCH_PATCH)
    if name == "biharmonic":
        return biharmonic_fill(image, hole)
    raise ValueError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")


def run_hires_baseline(name: str, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A baseline on the context crop around the holes, pasted into a copy of the photo."""
    box = context_box(hole)
    out = image.copy()
    out[box] = run_baseline(name, np.ascontiguousarray(image[box]), np.ascontiguousarray(hole[box]))
    return out
