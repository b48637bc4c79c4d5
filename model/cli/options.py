"""Argparse flags generated from an option dataclass (``model/option.py``):
each field's flag, help, choices and parser come from its metadata, and its
default from the dataclass, so nothing here repeats a default."""
from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any, Callable


def _parser_of(f: Field) -> Callable[[str], Any] | None:
    """How the flag's text becomes the field's value."""
    parse = f.metadata.get("parse")
    if parse is None and f.default is not MISSING and f.default is not None:
        parse = type(f.default)
        if parse is Path or issubclass(parse, Path):
            parse = Path
    if parse in (None, str):
        return None
    if parse in (int, float, Path):
        return parse

    def checked(text: str) -> Any:  # argparse shows the parser's own message, not a generic one
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    checked.__name__ = getattr(parse, "__name__", "value")
    return checked


def _help_of(f: Field) -> str:
    text = f.metadata.get("help", "")
    if f.default is not MISSING and f.default is not None and not isinstance(f.default, bool) \
            and "default" not in text:
        text += f" (default {f.metadata.get('shown', f.default)})"
    return text.replace("%", "%%")  # argparse formats help with %


def add_option_flags(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                     required_groups: tuple[str, ...] = ()) -> dict[str, argparse._MutuallyExclusiveGroup]:
    """Add one flag (or positional) per field of ``cls``. A flag that is not
    given leaves its field out of the namespace (``SUPPRESS``), so the
    dataclass's default applies. Returns the mutually exclusive groups by
    name, for flags that are not fields (e.g. batch's --watermark)."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for f in fields(cls):
        meta = f.metadata
        if f.name in skip or meta.get("cli", True) is False:
            continue
        kwargs: dict[str, Any] = {"help": _help_of(f)}
        if meta.get("positional"):
            kwargs["type"] = _parser_of(f) or Path
            parser.add_argument(f.name, **kwargs)
            continue
        kwargs["dest"] = f.name
        kwargs["default"] = argparse.SUPPRESS
        if isinstance(f.default, bool):
            kwargs["action"] = "store_true"
        else:
            if _parser_of(f) is not None:
                kwargs["type"] = _parser_of(f)
            if "choices" in meta:
                kwargs["choices"] = meta["choices"]
        names = meta.get("flag") or ("--" + f.name.replace("_", "-"),)
        if "action" not in kwargs and "choices" not in kwargs:
            kwargs["metavar"] = meta.get("metavar") or names[-1].lstrip("-").upper().replace("-", "_")
        target = parser
        if "group" in meta:
            name = meta["group"]
            if name not in groups:
                groups[name] = parser.add_mutually_exclusive_group(required=name in required_groups)
            target = groups[name]
        target.add_argument(*names, **kwargs)
    return groups


def flag_of(name: str, *classes: type) -> str:
    """The flag that sets option ``name``: its field's own long flag in one of
    ``classes`` (``masks_dir``: ``--masks``), else ``--name-with-dashes``
    (also for the flags that are not fields: ``--watermark``, ``--device``)."""
    for cls in classes:
        for f in fields(cls):
            if f.name == name and f.metadata.get("flag"):
                return [n for n in f.metadata["flag"] if n.startswith("--")][-1]
    return "--" + name.replace("_", "-")


def in_flags(exc: BaseException, *classes: type) -> str:
    """An engine error as the command line says it: the options an
    ``OptionError`` names (by field) as the flags of ``classes``."""
    from ..option import OptionError

    if isinstance(exc, OptionError):
        return exc.worded(lambda name: flag_of(name, *classes))
    return str(exc)


def options_from_args(cls: type, args: argparse.Namespace, **extra: Any) -> Any:
    """``cls(**the fields given on the command line, **extra)``."""
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    return cls(**{**values, **extra})
