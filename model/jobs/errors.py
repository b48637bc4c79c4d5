"""The batch's usage error, raised by the checks, the lock and the run."""
from __future__ import annotations


class BatchError(ValueError):
    """A usage problem: bad options, folders that overlap, a missing mask."""

