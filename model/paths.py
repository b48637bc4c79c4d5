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
    raise FileNotFoundError(
        f"no model weights: looked for {BUNDLED_WEIGHTS} and {user_weights()}; "
        f"pass --weights FILE or set ${WEIGHTS_ENV}")


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
