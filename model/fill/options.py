"""The options of a removal, written once: the ``Inpainter``'s defaults,
the command line's flags and the app's Settings all read them from here
(``model.option.default_of``). No numpy or torch: ``--help`` shows them."""
from __future__ import annotations

from dataclasses import dataclass

from ..option import option
from .registry import METHODS


@dataclass(frozen=True)
class InferenceOptions:
    method: str = option("network", "how to fill the hole: the network, or a classical fill", choices=METHODS)
    # the network's settings (model.inference.Inpainter)
    context: float = option(0.5, "context around each hole, as a fraction of the hole's size")
    dilate: int = option(3, "pixels the pasted region grows by, over which the fill is feathered")
    feather: bool = option(True, "feather the fill into the photo over the dilation")
    texture: bool = option(True, "finish stage 2 with the texture step (the photo's own detail)")
