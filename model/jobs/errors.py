"""The batch's errors: ``BatchError`` (a usage problem, raised by the checks,
the lock and the run), ``BatchOptionError`` (one that names options: each
front end words them, model/option.py) and ``PhotoRefused`` (one photo refused
by an option's value)."""
from __future__ import annotations

from ..option import OptionError


class BatchError(ValueError):
    """A usage problem: bad options, folders that overlap, a missing mask."""


class BatchOptionError(OptionError, BatchError):
    """A BatchError that names options by field (``{mask_fit}``): the command
    line says ``--mask-fit``, the app its own control."""


class PhotoRefused(ValueError):
    """This photo cannot be cleaned with the value ``option`` (a field of
    ``BatchOptions``) has; another value would clean it (e.g. a mask of another
    size, ``mask_fit``). The message says what is wrong, not how to fix it: the
    front ends say that in their own words."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.option = option

    def __reduce__(self):
        return type(self), (str(self), self.option)
