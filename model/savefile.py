"""Writing results in the input's format (basic version; see model/batch.py
for the metadata-preserving batch writer)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

FORMAT_BY_SUFFIX = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                    ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}


def save_like(image: np.ndarray, out: str | os.PathLike, like: str | os.PathLike | None = None) -> None:
    """Save RGB uint8 ``image`` to ``out`` in the format its suffix names."""
    out = Path(out)
    fmt = FORMAT_BY_SUFFIX.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: unsupported output format {out.suffix!r}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out, fmt, **options)
