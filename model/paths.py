"""Where the project's files live: bundled resources and the user's data dir."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

import resources

APP_NAME = "region-inpaint"
# The bundled files: the top-level ``resources`` package, so they are found the
# same way in a checkout, an editable install and an installed wheel.
RESOURCES = Path(resources.__file__).resolve().parent
BUNDLED_WEIGHTS = RESOURCES / "default.pt"
WEIGHTS_ENV = "INPAINT_WEIGHTS"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_weights() -> Path:
    return user_data_dir() / "weights" / "default.pt"


class MissingWeights(FileNotFoundError):
    """No weights were given and none were found where they are looked for:
    the front ends say how to give them (a flag, the app's Settings)."""


def resolve_weights(weights: str | os.PathLike | None = None) -> Path:
    """The weights file to use: an explicit path, then $INPAINT_WEIGHTS, then
    the bundled file (resources/default.pt), then the user data dir."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        return path
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"${WEIGHTS_ENV} points to a missing file: {path}")
        return path
    for candidate in (BUNDLED_WEIGHTS, user_weights()):
        if candidate.is_file():
            return candidate
    raise MissingWeights(f"no model weights: looked for {BUNDLED_WEIGHTS} and {user_weights()}, and "
                         f"${WEIGHTS_ENV} is not set")


def real_path(path: Path | str) -> Path:
    """The path with every symlink resolved; never raises (a symlink loop stays as it is)."""
    return Path(os.path.realpath(path))


def is_inside(path: Path | str, folder: Path | str) -> bool:
    """True when ``path`` is ``folder`` or lies inside it (symlinks resolved)."""
    path, folder = real_path(path), real_path(folder)
    return path == folder or folder in path.parents


def path_relation(path: Path | str, other: Path | str) -> str | None:
    """How ``path`` overlaps ``other``: "is", "lies inside" or "contains"
    (None: apart); symlinks resolved. The guard that keeps outputs off inputs."""
    a, b = real_path(path), real_path(other)
    if a == b:
        return "is"
    if b in a.parents:
        return "lies inside"
    if a in b.parents:
        return "contains"
    return None


def link_inside(path: Path | str, folder: Path | str) -> Path | None:
    """The first symbolic link on the way from ``folder`` down to ``path``
    (``path`` itself included), or None. ``path`` must lie under ``folder``
    by name. Writing through such a link could land outside ``folder``, so
    outputs are never written through one (``folder`` itself may be a link:
    the user chose it)."""
    folder, path = Path(folder), Path(path)
    current = folder
    for part in path.relative_to(folder).parts:
        current = current / part
        if os.path.islink(current):
            return current
    return None


def output_file_problem(path: Path | str) -> str | None:
    """Why a file cannot be written at ``path``, in words, or None: it is a
    folder, or one of its parents is a file (checked before any work, so the
    answer is one line rather than an OSError after the work)."""
    path = Path(path)
    if path.is_dir():
        return "is a folder; give a file name"
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else f"cannot be created: {parent} is a file, not a folder"
    return None

