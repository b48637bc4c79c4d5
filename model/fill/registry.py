"""The fillers by name: what ``--method`` and the app's Settings choose from.

Plain strings, no numpy or torch, so the command line's help and the app's
Settings list them without loading a model. Each entry names the class
(``"module:Class"``, a ``model.fill.base.Filler``) and how it is shown.
Adding a filler (e.g. an ONNX model) is one new file with its ``Filler``
subclass and one line here (docs/architecture.md, "How to add a filler").
"""
from __future__ import annotations

import importlib
from typing import NamedTuple


class Entry(NamedTuple):
    target: str  # "module:Class"
    label: str  # for people: the app's Settings, the eval's tables


FILLERS: dict[str, Entry] = {
    "network": Entry("model.inference:Inpainter", "network (coarse-to-fine, with the texture step)"),
    "telea": Entry("model.fill.classical:Telea", "Telea (OpenCV)"),
    "ns": Entry("model.fill.classical:NavierStokes", "Navier-Stokes (OpenCV)"),
    "patchmatch": Entry("model.fill.classical:PatchMatch", "PatchMatch (pypatchmatch)"),
    "biharmonic": Entry("model.fill.classical:Biharmonic", "biharmonic (scikit-image)"),
}
METHODS = tuple(FILLERS)


def filler_class(name: str) -> type:
    """The ``Filler`` subclass registered as ``name`` (imports its module). Raises ValueError."""
    if name not in FILLERS:
        raise ValueError(f"unknown fill method {name!r}; choose from {', '.join(METHODS)}")
    module, _, attr = FILLERS[name].target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_filler(name: str, weights=None, device: str = "auto", **settings):
    """The filler ``name``, ready to fill: ``Class.load(weights, device,
    **settings)`` (``settings``: ``InferenceOptions`` fields and the
    network's further arguments; a filler ignores what it has no use for)."""
    return filler_class(name).load(weights, device, **settings)
