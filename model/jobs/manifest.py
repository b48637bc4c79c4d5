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
    the job (mask, fit, quality): entries of another job are not trusted."""

    def __init__(self, folder: Path, job: str, resume: bool, token: str | None = None):
        self.path = folder / MANIFEST_NAME
        self.job = job
        self.entries: dict[str, dict] = {}
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
            return  # another mask or settings: redo everything
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


def job_key(options: BatchOptions, hole_key: str = "") -> str:
    """Identifies what a finished output depends on besides its source;
    ``hole_key``: what a filler that places its own hole places it by (the
    watermark restorer's estimate)."""
    h = hashlib.sha256()
    if options.mask is not None:
        h.update(Path(options.mask).read_bytes())
    elif options.masks_dir is not None:
        h.update(str(Path(options.masks_dir).resolve()).encode())
    h.update(hole_key.encode())
    h.update(f"|{options.mask_fit}|{options.quality}|{options.missing}".encode())
    return h.hexdigest()[:16]
