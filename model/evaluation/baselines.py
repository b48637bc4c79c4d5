"""The fills the model is compared with, chosen by name from the filler
registry (``model.fill``): by default the classical ones, OpenCV's Telea and
Navier-Stokes, PatchMatch (pypatchmatch) and scikit-image's biharmonic.
Known pixels stay as they are."""
from __future__ import annotations

from typing import Iterable

from ..fill import METHODS, filler_class, load_filler
from .defaults import BASELINES, HIRES_BASELINES, LABELS  # noqa: F401 (re-exported)


def available_baselines(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """The baselines among ``names`` that can run here, and a note for each
    one left out (unknown names raise)."""
    names = [n for n in names if n]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {list(METHODS)}")
    usable, notes = [], []
    for name in names:
        missing = filler_class(name).missing()
        if missing is not None:
            notes.append(f"{LABELS.get(name, name)} baseline left out: {missing}")
            continue
        usable.append(name)
    return usable, notes


def baseline_fillers(names: Iterable[str], whole_image: bool, device: str = "cpu") -> dict:
    """The fillers of the baselines ``names``: on the whole (small) test
    image, or on the context crop around the holes of a full-size photo."""
    return {name: load_filler(name, device=device, whole_image=whole_image) for name in names}
