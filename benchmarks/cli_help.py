"""How fast the command line answers ``--help`` and a usage error.

    python -m benchmarks.cli_help [--repeat 7]

Each case is a fresh ``python main.py ...`` process (what a user waits for:
interpreter start-up, imports, parsing, printing); reports the median and the
slowest wall time. For scale, the time of ``python -c "import torch"``, which
every command's help paid before the engine was imported lazily.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "main.py --help": ["main.py", "--help"],
    "main.py remove --help": ["main.py", "remove", "--help"],
    "main.py train --help": ["main.py", "train", "--help"],
    "main.py remove (usage error)": ["main.py", "remove"],
    'python -c "import torch"': ["-c", "import torch"],
}


def wall_times(args: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per case (default 7)")
    args = parser.parse_args()
    wall_times(CASES["main.py --help"], 1)  # warm the file cache
    for name, case in CASES.items():
        times = wall_times(case, args.repeat)
        print(f"{name:32s} median {statistics.median(times):.3f} s, max {max(times):.3f} s")


if __name__ == "__main__":
    main()
