"""Persisted preferences (QSettings) with typed accessors and defaults."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from model.fill import InferenceOptions  # no numpy or torch: the removal's defaults, written once there
from model.option import default_of

ORG = "region-inpaint"
APP = "region-inpaint"
MAX_RECENT = 10

# output format policy for Save As
FORMAT_KEEP = "keep"  # same format as the original (JPEG stays JPEG, ...)
FORMAT_PNG = "png"  # always lossless PNG
FORMAT_POLICIES = {FORMAT_KEEP: "Same as the original", FORMAT_PNG: "Always PNG (lossless)"}


class Settings:
    """Thin typed layer over QSettings so every key and default lives here."""

    DEFAULTS = {"device": "auto", "weights": "", "brush_size": 40,
                "method": default_of(InferenceOptions, "method"), "context": default_of(InferenceOptions, "context"),
                "format_policy": FORMAT_KEEP, "mask_opacity": 0.5, "texture": default_of(InferenceOptions, "texture")}

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings if qsettings is not None else QSettings(ORG, APP)

    def _get(self, key: str):
        default = self.DEFAULTS[key]
        value = self.q.value(key, default)
        if isinstance(default, bool) and isinstance(value, str):  # QSettings' ini files store "true"/"false"
            return value.lower() == "true"
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value) -> None:
        self.q.setValue(key, value)
        self.q.sync()

    device = property(lambda self: self._get("device"), lambda self, v: self._set("device", v))
    weights = property(lambda self: self._get("weights"), lambda self, v: self._set("weights", v))
    method = property(lambda self: self._get("method"), lambda self, v: self._set("method", v))
    brush_size = property(lambda self: self._get("brush_size"), lambda self, v: self._set("brush_size", int(v)))
    context = property(lambda self: self._get("context"), lambda self, v: self._set("context", float(v)))
    format_policy = property(lambda self: self._get("format_policy"),
                             lambda self, v: self._set("format_policy", v))
    texture = property(lambda self: self._get("texture"), lambda self, v: self._set("texture", bool(v)))
    mask_opacity = property(lambda self: self._get("mask_opacity"),
                            lambda self, v: self._set("mask_opacity", float(v)))

    # ---------------------------------------------------------- recent files
    def recent_files(self) -> list[str]:
        value = self.q.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a bare string for one entry
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        files = [path] + [p for p in self.recent_files() if p != path]
        self._set("recent_files", files[:MAX_RECENT])

    def clear_recent(self) -> None:
        self._set("recent_files", [])
