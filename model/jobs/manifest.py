"""The manifest of a batch's output folder: the files finished so far, so
that a resumed run skips them."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from ..photos.atomic import atomic_target
from .options import BatchOptions

MANIFEST_NAME = ".inpaint-manifest.jsonl"


class Manifest:
    """Finished files, one JSON line each, appended and fsynced after each
    file. Appending keeps the cost per file constant for 5,000-photo runs
    (rewriting one JSON file each time would not); a line torn by a kill is
    simply ignored, so the file is always consistent. The first line names
    the job (``job_key``: mask, fit, quality, the fill): entries of another
    job are not trusted, and ``other_job`` says a resume found one."""

    def __init__(self, folder: Path, job: str, resume: bool, token: str | None = None):
        self.path = folder / MANIFEST_NAME
        self.job = job
        self.entries: dict[str, dict] = {}
        self.other_job = False  # resuming a folder another job wrote: every photo is done again
        if resume and self.path.is_file() and not self.path.is_symlink():  # a planted link is replaced, never read
            self._read()
        folder.mkdir(parents=True, exist_ok=True)
        if not self.entries:  # a fresh start: a new manifest for this job
            with atomic_target(self.path, token) as tmp:
                tmp.write_text(json.dumps({"job": job}) + "\n")
        self._file = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def _read(self) -> None:
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        try:
            head = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            head = {}
        if head.get("job") != self.job:
            self.other_job = True  # another mask, fill or settings: redo everything
            return
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                self.entries[entry["rel"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # torn by an interruption

    def finished(self, rel: str, src: Path, out: Path, mask: Path | None) -> bool:
        """True when ``out`` was written for this very source (and mask) and
        still has the size it was written with."""
        e = self.entries.get(rel)
        if not e:
            return False
        try:
            ok = e.get("size") == out.stat().st_size
            return ok and e.get("src") == _signature(src) and e.get("mask") == _signature(mask)
        except OSError:
            return False

    def add(self, rel: str, src: Path, out: Path, mask: Path | None, status: str) -> None:
        line = json.dumps({"rel": rel, "status": status, "size": out.stat().st_size,
                           "src": _signature(src), "mask": _signature(mask)})
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _signature(path: Path | None) -> list[int] | None:
    """Size and modification time: a source or mask edited since is redone."""
    if path is None:
        return None
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


# What decides a filler's result besides its name and weights: the settings of
# the network (model.inference.Inpainter), of a crop fill (model.fill.base.CropFiller)
# and of the watermark restorer. Not the device: a resumed run may use another one.
FILL_SETTINGS = ("context", "dilate", "feather", "texture", "texture_options", "run_size", "scales",
                 "whole_image", "denoise", "fit")


def fill_key(filler, inner=None) -> str:
    """What a filler's results depend on: its name, its weights' content (a
    digest, so the same file elsewhere keeps the key and other weights change
    it), the ``FILL_SETTINGS`` it holds and the key of the filler it calls
    (the watermark restorer's bound one; ``inner``: that one, when not bound yet)."""
    if filler is None:
        return ""
    settings = getattr(filler, "__dict__", {})
    parts = [filler.name]
    weights = getattr(filler, "weights_path", None)
    if weights is not None:
        parts.append("weights " + hashlib.sha256(Path(weights).read_bytes()).hexdigest())
    parts += [f"{name}={settings[name]!r}" for name in FILL_SETTINGS if name in settings]
    inner = inner if inner is not None else settings.get("inpainter")
    if inner is not None:
        parts.append(f"({fill_key(inner)})")
    return " ".join(parts)


def job_key(options: BatchOptions, hole_key: str = "", fill: str = "") -> str:
    """Identifies what a finished output depends on besides its source;
    ``hole_key``: what a filler that places its own hole places it by (the
    watermark restorer's estimate); ``fill``: the filler (``fill_key``)."""
    h = hashlib.sha256()
    if options.mask is not None:
        h.update(Path(options.mask).read_bytes())
    elif options.masks_dir is not None:
        h.update(str(Path(options.masks_dir).resolve()).encode())
    h.update(hole_key.encode())
    h.update(f"|{options.mask_fit}|{options.quality}|{options.missing}|{fill}".encode())
    return h.hexdigest()[:16]
