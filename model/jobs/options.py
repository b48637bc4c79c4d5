"""The options of a batch run (``BatchOptions``), apart from the batch code
(``batch.py`` and the modules beside it) so that the command line builds its flags, and answers
``--help``, without loading numpy, OpenCV or the photo readers."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..option import option

MASK_FITS = ("error", "stretch", "anchor-topleft", "anchor-topright", "anchor-bottomleft",
             "anchor-bottomright", "anchor-center")
MISSING = ("copy", "skip")


@dataclass
class BatchOptions:
    input_dir: Path = field(metadata={"help": "folder of photos (searched recursively)", "positional": True})
    output_dir: Path | None = option(None, "output folder (default: INPUT_DIR_cleaned next to the input)",
                                     flag=("-o", "--output"), parse=Path)
    mask: Path | None = option(None, "one mask for every photo (white = remove)", group="mask", parse=Path)
    masks_dir: Path | None = option(None, "a folder of masks matched by relative path and stem "
                                          "(a.jpg <-> MASKS/a.png)", flag=("--masks",), group="mask", parse=Path)
    mask_fit: str = option("error", "a mask of another size than the photo: fail the photo (error), stretch "
                                    "it, or keep its size pinned to a corner or the centre", choices=MASK_FITS)
    missing: str = option("copy", "photos without a mask in --masks: copy unchanged or skip", choices=MISSING)
    quality: int | None = option(None, "JPEG/WebP quality 1-100 (default: estimated from each JPEG)", parse=int)
    resume: bool = option(False, "skip the photos an earlier run finished (manifest + size)")
    report: Path | None = option(None, "write a per-file JSON report here", parse=Path)
    # model/jobs/cluster.py (the optional Ray extra); the outputs are the same as a local run's
    cluster: str | None = option(None, "clean on a Ray cluster: its address (HOST:PORT), or auto ($RAY_ADDRESS, "
                                       "else a local cluster on this machine's cores)", parse=str,
                                 metavar="ADDRESS")
    workers: int | None = option(None, "with --cluster: CPU workers to start (default: one per CPU of the "
                                       "cluster; with GPUs, one worker per GPU)", parse=int, metavar="N")

