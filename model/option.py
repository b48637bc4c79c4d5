"""Option dataclasses that describe their own command-line flags.

A field made with ``option()`` carries its help text (and, where needed, its
flag name, choices and parser) in its metadata; ``model/cli/options.py``
turns the fields into argparse flags. So each option and its default are
written once, in the dataclass, and the GUI reads the same defaults."""
from __future__ import annotations

from dataclasses import MISSING, field, fields
from typing import Any


def option(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with its command-line description: ``help``, and
    optionally ``flag`` (a list of names instead of --field-name),
    ``choices``, ``parse`` (text -> value: for tuples and None defaults),
    ``shown`` (the default as the user writes it), ``metavar`` (the value's
    name in the help), ``group`` (mutually
    exclusive flags), ``positional`` and ``cli=False`` (no flag)."""
    return field(default=default, metadata={"help": help, **cli})


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of the option dataclass ``cls``
    (e.g. the GUI's fine-tune controls: ``default_of(TrainOptions, "steps")``)."""
    for f in fields(cls):
        if f.name == name:
            if f.default is MISSING:
                raise ValueError(f"{cls.__name__}.{name} has no default")
            return f.default
    raise ValueError(f"{cls.__name__} has no field {name!r}")
