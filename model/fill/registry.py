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

from ..option import OptionError


class Entry(NamedTuple):
    target: str  # "module:Class"
    label: str  # for people: the app's Settings, the eval's tables
    # the load settings only this filler reads (InferenceOptions fields, ``weights`` and the
    # like); a command refuses them given for another (``check_settings``)
    own_settings: tuple[str, ...] = ()


FILLERS: dict[str, Entry] = {
    "network": Entry("model.inference:Inpainter", "network (coarse-to-fine, with the texture step)",
                     ("weights", "texture", "run_size", "scales")),
    "telea": Entry("model.fill.classical:Telea", "Telea (OpenCV)"),
    "ns": Entry("model.fill.classical:NavierStokes", "Navier-Stokes (OpenCV)"),
    "patchmatch": Entry("model.fill.classical:PatchMatch", "PatchMatch (pypatchmatch)"),
    "biharmonic": Entry("model.fill.classical:Biharmonic", "biharmonic (scikit-image)"),
}
METHODS = tuple(FILLERS)


def _entry(name: str) -> Entry:
    if name not in FILLERS:
        raise ValueError(f"unknown fill method {name!r}; choose from {', '.join(METHODS)}")
    return FILLERS[name]


# every setting some filler reads that another ignores
OWN_SETTINGS = tuple(dict.fromkeys(name for entry in FILLERS.values() for name in entry.own_settings))


def check_settings(name: str, given) -> None:
    """Raise ``OptionError`` (naming the settings by field) when ``given``
    holds settings that filler ``name`` does not read but another does
    (the network's weights with ``telea``): given on purpose, they would be
    silently ignored. ``load_filler`` itself ignores them (the app passes
    all its Settings)."""
    own = _entry(name).own_settings
    unused = [s for s in OWN_SETTINGS if s in given and s not in own]
    if unused:
        many = len(unused) > 1
        users = [m for m, entry in FILLERS.items() if set(unused) & set(entry.own_settings)]
        raise OptionError(f"{' and '.join('{%s}' % s for s in unused)} {'are' if many else 'is'} only for "
                          f"{{method}} {{users}}; {{method}} {{chosen}} does not read {'them' if many else 'it'}",
                          chosen=name, users=" or ".join(users))


def filler_class(name: str) -> type:
    """The ``Filler`` subclass registered as ``name`` (imports its module). Raises ValueError."""
    module, _, attr = _entry(name).target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_filler(name: str, weights=None, device: str = "auto", **settings):
    """The filler ``name``, ready to fill: ``Class.load(weights, device,
    **settings)`` (``settings``: ``InferenceOptions`` fields and the
    network's further arguments; a filler ignores what it has no use for)."""
    return filler_class(name).load(weights, device, **settings)
