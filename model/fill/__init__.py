"""Fillers: every way this program fills a hole, behind one interface.

``base.py`` is the interface (``Filler``: a name, its outputs, ``fill(image,
mask) -> FillResult``; the checks, the context crop and the paste done once),
``registry.py`` maps names to fillers, ``options.py`` holds the removal's
options and their defaults, ``classical.py`` the classical fills. The network
is ``model.inference.Inpainter``; the watermark restorer
``model.jobs.watermark_restore.WatermarkRestorer``. This module and the two
it imports load no numpy or torch (the command line's help lists the names).
"""
from .options import InferenceOptions
from .registry import FILLERS, METHODS, check_settings, filler_class, load_filler

__all__ = ["FILLERS", "METHODS", "InferenceOptions", "check_settings", "filler_class", "load_filler"]
