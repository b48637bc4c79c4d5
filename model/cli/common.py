"""What several commands share: the device and weights flags and opening the model."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def valid_devices() -> list[str]:
    """The --device values that work on this machine."""
    from ..devices import available_devices

    return [name for name, _ in available_devices()]


def check_device(name: str) -> str | None:
    """None when ``--device name`` can be used here, else the message to print."""
    if name in ("auto", "cpu"):  # always valid: no need to load torch to say so (usage errors answer at once)
        return None
    valid = valid_devices()
    if name in valid:
        return None
    kind = name.split(":")[0]
    known = {"cuda": "CUDA is not available here" if "cuda" not in valid else "there is no such CUDA device here",
             "mps": "Apple MPS is not available here"}
    why = known.get(kind, "not a device name")
    return f"--device {name}: {why}; valid devices here: {', '.join(valid)}"


def add_device_weights(parser: argparse.ArgumentParser) -> None:
    """``--method``, ``--device``, ``--weights`` and ``--texture`` (their
    defaults and the method names from ``model.fill``, which loads no torch)."""
    from ..fill import FILLERS, InferenceOptions
    from ..option import default_of

    method = default_of(InferenceOptions, "method")
    parser.add_argument("--method", choices=tuple(FILLERS), default=method,
                        help=f"how to fill: {', '.join(f'{name} ({entry.label})' for name, entry in FILLERS.items())} "
                             f"(default {method})")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--weights", type=Path, help="the network's checkpoint (default: $INPAINT_WEIGHTS, then the bundled model)")
    texture = "on" if default_of(InferenceOptions, "texture") else "off"
    # no default here (texture_on gives it): a --texture given with a classical method is refused
    parser.add_argument("--texture", choices=("on", "off"),
                        help="stage 2's texture step: the photo's own detail (PatchMatch) under the "
                             f"network's colours and shapes (default {texture}; off: the network's fill alone)")


def texture_on(args: argparse.Namespace) -> bool:
    """``--texture``, or its default when not given."""
    from ..fill import InferenceOptions
    from ..option import default_of

    return default_of(InferenceOptions, "texture") if args.texture is None else args.texture == "on"


def unread_flags(args: argparse.Namespace) -> str | None:
    """The usage error when flags only another method reads were given
    (``--weights``/``--texture``, eval's ``--run-size``/``--scales``, with
    ``--method telea``: they would be silently ignored), else None."""
    from ..fill import check_settings
    from ..fill.registry import OWN_SETTINGS
    from ..option import OptionError
    from .options import in_flags

    try:
        check_settings(args.method, [name for name in OWN_SETTINGS if getattr(args, name, None) is not None])
    except OptionError as exc:
        return in_flags(exc)
    return None


def open_inpainter(args: argparse.Namespace, **settings):
    """The filler for a command (``--method``, ``--weights``, ``--device``,
    ``--texture``; ``settings``: other ``Inpainter`` arguments, e.g. eval's
    run size), or None after printing why it cannot be loaded (the caller
    exits with 2)."""
    from ..fill import load_filler

    settings = {"texture": texture_on(args), **settings}
    try:
        return load_filler(args.method, args.weights, args.device, **settings)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {weights_message(exc)}", file=sys.stderr)
        return None


def weights_message(exc: BaseException, flag: str = "--weights") -> str:
    """Why the model cannot be loaded; where no weights were found, how to give them."""
    from ..paths import WEIGHTS_ENV, MissingWeights

    return f"{exc}; pass {flag} FILE or set ${WEIGHTS_ENV}" if isinstance(exc, MissingWeights) else str(exc)
