"""What every worker of the evaluation benchmark shares; standard library only.

Usage of a worker: ``python worker_TOOL.py FOLDER MODEL REPEATS [--subset]``, FOLDER
holding what ``_data.write_inputs`` wrote, MODEL a key of ``_data.MODELS``.

Each worker reads the rows and the model first (pandas, pyarrow and scikit-learn
imported then, untimed, as for every tool), then times the import of its tool, then
one first call and ``REPEATS`` more. It prints one JSON line: the seconds of the import,
of the first call and of each repeat (wall and CPU, all threads), and what the call
computed.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLOW_S = 60.0  # a tool whose first call takes longer than this is repeated once


@dataclass
class Arguments:
    folder: Path
    model: str
    repeats: int
    subset: bool


def arguments(argv: list[str]) -> Arguments:
    flags = [word for word in argv if word.startswith("--")]
    folder, model, repeats = (word for word in argv if not word.startswith("--"))
    return Arguments(Path(folder), model, int(repeats), "--subset" in flags)


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """What ``call`` returned, and its wall and CPU seconds (CPU of every thread)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def calls(call: Callable[[], Any], repeats: int, import_s: float) -> tuple[Any, dict[str, Any]]:
    """The last result of ``call``, and the seconds of its first call and its repeats."""
    result, first_s, first_cpu_s = timed(call)
    if first_s > SLOW_S:
        repeats = min(repeats, 1)
    seconds, cpu_seconds = [], []
    for _ in range(repeats):
        result, wall, cpu = timed(call)
        seconds.append(wall)
        cpu_seconds.append(cpu)
    return result, {
        "import_s": import_s,
        "first_call_s": first_s,
        "first_call_cpu_s": first_cpu_s,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }


def versions(**tools: str) -> dict[str, str]:
    """The tool's version with those of the stack every worker shares."""
    import numpy
    import pandas
    import pyarrow
    import sklearn

    return {
        **tools,
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def emit(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
