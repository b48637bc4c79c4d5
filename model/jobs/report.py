"""What a batch run reports: a ``BatchProgress`` after each file, a
``FileRecord`` per file and the ``BatchSummary`` (``--report`` writes it as
JSON, atomically)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..photos.atomic import atomic_target


@dataclass
class BatchProgress:
    done: int  # files handled so far (any outcome)
    total: int
    path: str  # the file just handled
    status: str  # for people: "done", "copied", "skipped: ...", "resumed", "failed: reason"
    # for code (the GUI's dialog), so nobody parses ``status``:
    outcome: str = ""  # done | copied | skipped | resumed | failed
    reason: str = ""
    workers: int = 0  # a cluster run's workers at work now (0 for a local run)
    option: str = ""  # failed: the option whose value refused the photo (mask_fit), for the front end's hint


@dataclass
class FileRecord:
    path: str  # the input file
    relpath: str
    status: str  # done | copied | skipped | resumed | failed
    reason: str = ""
    output: str | None = None
    seconds: float = 0.0
    decode_s: float = 0.0
    model_s: float = 0.0
    encode_s: float = 0.0
    confidence: float | None = None  # model.confidence: low = review this result first
    option: str = ""  # failed: the option whose value refused the photo (mask_fit); another value cleans it


@dataclass
class BatchSummary:
    done: int = 0  # photos cleaned
    skipped: int = 0  # resumed (finished before) or without a mask (--missing skip)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0
    records: list[FileRecord] = field(default_factory=list)
    copied: int = 0  # written unchanged (no mask for them, or the mask misses them)
    total: int = 0
    stopped: bool = False  # should_stop / Ctrl+C ended the run early
    output_dir: str = ""
    report_error: str = ""  # the report could not be written (the summary itself is complete)
    other_job: bool = False  # resume asked, but the output folder's manifest is another job's: every photo redone

    def to_json(self) -> dict:
        return {"output_dir": self.output_dir, "total": self.total, "done": self.done, "copied": self.copied,
                "skipped": self.skipped, "failed": len(self.failed), "stopped": self.stopped,
                "seconds": round(self.seconds, 3), "files": [asdict(r) for r in self.records]}



def write_report(path: Path, summary: BatchSummary, token: str | None = None) -> None:
    """Atomically (a full disk leaves the old report, or none, and no temp file)."""
    with atomic_target(path, token) as tmp:
        tmp.write_text(json.dumps(summary.to_json(), indent=1), encoding="utf-8")
