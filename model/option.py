"""Option dataclasses that describe their own command-line flags.

A field made with ``option()`` carries its help text (and, where needed, its
flag name, choices and parser) in its metadata; ``model/cli/options.py``
turns the fields into argparse flags. So each option and its default are
written once, in the dataclass, and the GUI reads the same defaults."""
from __future__ import annotations

from dataclasses import MISSING, field, fields
from string import Formatter
from typing import Any, Callable


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


class OptionError(ValueError):
    """A problem with options, which names them by field (``mask_fit``), not
    as one front end spells them: the command line words them as its flags
    (``--mask-fit``), the app as its controls.

    ``text`` writes an option as ``{field}``; the other ``{names}`` in it are
    filled from ``values`` (so a value's own braces, e.g. in a path, are kept
    as they are): ``OptionError("{workers} must be 1 or more, got {got}",
    got=0)``. ``str()`` names the fields (what a Python caller sets);
    ``worded(name)`` puts ``name(field)`` in their place."""

    def __init__(self, text: str, **values: Any):
        self.text, self.values = text, values
        self.options = tuple(dict.fromkeys(name for _, name, _, _ in Formatter().parse(text)
                                           if name and name not in values))
        super().__init__(self.worded(str))

    def worded(self, name: Callable[[str], str]) -> str:
        return self.text.format(**{field: name(field) for field in self.options}, **self.values)

    def __reduce__(self):  # pickled (a cluster worker's error) with its parts, not the worded message
        return _option_error, (type(self), self.text, self.values)


def _option_error(cls: type, text: str, values: dict) -> OptionError:
    return cls(text, **values)
