"""The open photo: its pixels, the versions that tell the saved photo from
the one shown, and reading and writing it. No widgets here: the window
shows a ``PhotoDocument`` and asks before anything is lost."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from model.photos.files import IMAGE_SUFFIXES
from model.photos.files import cleaned_path
from model.photos.imageio import read_image
from model.photos.savefile import save_like

from .settings import FORMAT_PNG

# the open/save file filter, from the core's list of photo types
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"

_versions = itertools.count(1)


def new_photo_version() -> int:
    """A number no other state of the photo has had: tells the saved photo from the one shown."""
    return next(_versions)


def default_output_path(source: Path, policy: str) -> Path:
    """Where Save first offers to write: PHOTO_cleaned next to the original."""
    return cleaned_path(source, ".png" if policy == FORMAT_PNG else None)


class PhotoDocument:
    """One photo being cleaned. Versions name states of the photo (see
    accept_command): undoing an accept brings its version back, so
    ``modified`` follows the undo history, not a flag."""

    def __init__(self) -> None:
        self.path: Path | None = None  # the opened photo (never written without asking)
        self.original: np.ndarray | None = None
        self.image: np.ndarray | None = None  # the working photo (after accepted removals)
        self.save_path: Path | None = None  # where Save writes; None: ask first
        self.version = self.original_version = new_photo_version()
        self.saved_version: int | None = self.version  # last saved or opened; None: no state matches the file

    @property
    def modified(self) -> bool:
        """True while the photo shown is not the one last saved (or opened)."""
        return self.version != self.saved_version

    @modified.setter
    def modified(self, value: bool) -> None:
        # False: take the photo shown as saved; True: as matching no saved file
        self.saved_version = None if value else self.version

    @property
    def at_original(self) -> bool:
        return self.version == self.original_version

    def open(self, path: str | Path) -> np.ndarray:
        """Read ``path`` and make it the document. Raises ImageReadError (and
        leaves the document as it was)."""
        path = Path(path)
        image = read_image(path)
        if not image.flags.writeable:  # PIL-backed arrays are read-only; torch warns on them
            image = image.copy()
        self.path, self.original, self.image = path, image, image
        self.save_path = None
        self.version = self.original_version = self.saved_version = new_photo_version()
        return image

    def write(self, target: Path) -> None:
        """Save the working photo to ``target`` like the original (format,
        quality, metadata). Raises OSError or ValueError."""
        save_like(self.image, target, like=self.path)
        self.save_path = target
        self.saved_version = self.version

    def write_pixels(self, box: tuple[int, int, int, int], pixels: np.ndarray, version: int) -> np.ndarray:
        """Put ``pixels`` into ``box`` (AcceptCommand's redo and undo); the
        photo then is ``version``. Returns the new working photo."""
        # into a copy: the photo before may still be in use (the original, the result view)
        x0, y0, x1, y1 = box
        image = self.image.copy()
        image[y0:y1, x0:x1] = pixels
        self.image, self.version = image, version
        return image

    def revert(self) -> np.ndarray:
        """Back to the original photo (its version, so Save knows it matches the file)."""
        self.image, self.version = self.original, self.original_version
        return self.image

    def default_save_path(self, policy: str) -> Path:
        return self.save_path or default_output_path(self.path, policy)

    def display_name(self) -> str:
        return self.path.name if self.path else "no photo"
