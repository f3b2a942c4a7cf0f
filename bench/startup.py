"""`import loopml` and `loopml --help` of this tree beside an earlier commit, in one run.

The earlier commit's ``src/`` is exported with ``git archive`` into a scratch folder;
both trees run on the same interpreter (``.venv``), each first on ``PYTHONPATH``, so
the only difference is loopml's own code. Each sample is a fresh process timed from
spawn to exit; the two trees alternate run by run, after warm-ups that also write the
``.pyc`` caches; the table shows medians.

    python bench/startup.py [--against REV] [--runs N]

``REV`` defaults to the last commit before the packages were put in one-way layers.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _tools import machine, print_columns, run_checked, say

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
BEFORE_LAYERS = "e2f45c2"
WARMUPS = 3
TIMEOUT_S = 120
COMMANDS = {
    "import loopml": ["-c", "import loopml"],
    "loopml --help": ["-m", "loopml", "--help"],
}


def export_src(rev: str, into: Path) -> Path:
    """The ``src/`` folder of ``rev``, written under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=True,
        timeout=TIMEOUT_S,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def timed(args: list[str], src: Path, scratch: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both trees keep their .pyc caches
    started = time.perf_counter()
    run_checked(
        [str(PYTHON), *args],
        timeout=TIMEOUT_S,
        env=env,
        cwd=scratch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", default=BEFORE_LAYERS, help="the earlier commit")
    parser.add_argument("--runs", type=int, default=21, help="timed runs per tree")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopml-startup-") as scratch_dir:
        scratch = Path(scratch_dir)
        trees = {"this tree": ROOT / "src", options.against: export_src(options.against, scratch)}
        say(f"startup: this tree vs {options.against}, {WARMUPS} warm-ups, {options.runs} runs")
        lines = []
        for measure, args in COMMANDS.items():
            samples: dict[str, list[float]] = {tree: [] for tree in trees}
            for index in range(WARMUPS + options.runs):
                for tree, src in trees.items():
                    took = timed(args, src, scratch)
                    if index >= WARMUPS:
                        samples[tree].append(took)
            now, before = (statistics.median(samples[tree]) for tree in trees)
            lines.append(
                {
                    "measure": measure,
                    "now": f"{now * 1000:.0f} ms",
                    "before": f"{before * 1000:.0f} ms",
                    "ratio": f"{now / before:.2f}",
                }
            )
    print_columns(
        {"measure": "", "now": "this tree", "before": options.against, "ratio": "now/before"},
        lines,
    )
    say(f"machine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
