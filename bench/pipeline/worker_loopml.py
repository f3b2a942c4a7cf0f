"""loopml's pipeline runs timed in process, and its ``loopml run`` profiled; runs in ``.venv``.

Usage::

    python bench/pipeline/worker_loopml.py inprocess FILE.py:NAME WARMUPS RUNS CACHED_RUNS
    python bench/pipeline/worker_loopml.py summarize STATS_FILE [TOP]

``inprocess`` imports loopml and loads the pipeline first (``load_pipeline``, what
``loopml run`` uses), then times ``pipeline.run(workspace=ws, echo=False, x0=...)``:

- **uncached, used workspace**: one workspace, a new ``x0`` for every run, so all 10
  cache keys are new and all 10 steps run; after ``WARMUPS`` runs of the same kind.
- **uncached, fresh workspace**: a new workspace for every run (made, and its store
  opened, before the timer), a new ``x0``: what the first run in a new workspace pays.
- **cached**: the used workspace again with an ``x0`` it has run, so all 10 steps are
  reused from the cache; after one warm-up of the same kind.

Each run is checked (every step "ran", or every step "cached", and the value right)
after its timer stops. Wall time is ``perf_counter``, CPU time ``process_time`` (the
process's user + sys, all threads). Prints one JSON line.

``summarize`` reads a cProfile stats file (the driver runs ``python -m cProfile -o FILE
.venv/bin/loopml run ...``, so that the process is exactly the command's) and prints one
JSON line with the top functions and the time of each phase of a pipeline run.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEPS = 10
STRIDE = 100  # x0 values this far apart share no step input, so no cache hit between runs


def expected(pipeline_name: str, x0: int, value: Any) -> bool:
    if pipeline_name == "ten":
        return bool(value == x0 + STEPS)
    return bool(len(value) == 1_000 and int(value["x"].iloc[0]) == x0 + STEPS)


def as_lists(samples: list[tuple[float, float]], warm: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "samples_s": [wall for wall, _ in samples],
        "cpu_s": [cpu for _, cpu in samples],
        "warmups_s": [wall for wall, _ in warm],
    }


def inprocess(target: str, warmups: int, runs: int, cached_runs: int) -> dict[str, Any]:
    import loopml
    from loopml.pipeline import load_pipeline

    pipeline = load_pipeline(target)
    x0 = 0

    def timed(ws: Any, value: int, want: str) -> tuple[float, float]:
        cpu = time.process_time()
        started = time.perf_counter()
        result = pipeline.run(workspace=ws, echo=False, x0=value)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        statuses = [step.status for step in result.steps]
        if statuses != [want] * STEPS:
            raise SystemExit(f"expected {STEPS} steps {want}, got {statuses}")
        if not expected(pipeline.name, value, result.value):
            raise SystemExit(f"wrong value for x0={value}: {result.value!r}")
        return wall, cpu

    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="loopml-bench-pipeline-") as scratch_name:
        scratch = Path(scratch_name)
        used = scratch / "used"
        used.mkdir()
        ws = loopml.init(used)
        ws.store.info()
        warm = []
        for _ in range(warmups):
            x0 += STRIDE
            warm.append(timed(ws, x0, "ran"))
        samples = []
        for _ in range(runs):
            x0 += STRIDE
            samples.append(timed(ws, x0, "ran"))
        found["uncached_used"] = as_lists(samples, warm)

        samples = []
        for index in range(runs):
            folder = scratch / f"fresh-{index}"
            folder.mkdir()
            fresh = loopml.init(folder)
            fresh.store.info()  # the store is made and opened before the timer
            x0 += STRIDE
            samples.append(timed(fresh, x0, "ran"))
            fresh.close()
        found["uncached_fresh"] = as_lists(samples, [])

        done = STRIDE  # the used workspace's first warm-up ran x0 = STRIDE
        warm = [timed(ws, done, "cached")]
        samples = [timed(ws, done, "cached") for _ in range(cached_runs)]
        found["cached"] = as_lists(samples, warm)
        ws.close()
    return found


# What a fully cached ``loopml run`` spends its time on, by function (cumulative time).
PHASES = (
    (
        "loopml/cli/_main.py",
        "main",
        "loopml.cli main: all of the command after `import loopml.cli`",
    ),
    ("loopml/cli/_app.py", "<module>", "import loopml.cli._app (Typer, Click)"),
    ("loopml/pipeline/_load.py", "load_pipeline", "load_pipeline: import the pipeline file"),
    ("loopml/pipeline/_graph.py", "run", "Pipeline.run"),
    ("loopml/workspace.py", "store", "open the metadata store (SQLAlchemy import, engine, check)"),
    ("loopml/pipeline/_run.py", "reap_dead_runs", "reap_dead_runs"),
    ("loopml/_env.py", "environment", "environment (package list, cached on disk)"),
    ("loopml/_env.py", "git_state", "git_state (git rev-parse, git status)"),
    ("<frozen importlib._bootstrap>", "_find_and_load", "all imports (outermost)"),
)


def summarize(stats_file: str, top: int) -> dict[str, Any]:
    """The top functions of a cProfile stats file, and the cumulative time of PHASES."""
    import pstats

    stats = pstats.Stats(stats_file)
    rows = []
    phases = []
    for (file, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = short(file)
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls": calls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
            }
        )
        for suffix, function, label in PHASES:
            if where == suffix and name == function:
                phases.append(
                    {
                        "phase": label,
                        "cumtime_s": cumtime,
                        "order": PHASES.index((suffix, function, label)),
                    }
                )
    phases.sort(key=lambda p: p.pop("order"))
    own = sorted(rows, key=lambda r: -r["tottime_s"])[:top]
    outside_imports = [
        r for r in rows if "importlib" not in r["function"] and "builtins.exec" not in r["function"]
    ]
    cumulative = sorted(outside_imports, key=lambda r: -r["cumtime_s"])[:top]
    return {
        "total_s": stats.total_tt,  # type: ignore[attr-defined]
        "phases": phases,
        "top_cumulative": cumulative,
        "top_own": own,
    }


def short(file: str) -> str:
    """A code file without this machine's folders: from its package on."""
    if file.startswith(("<", "~")):
        return file
    parts = Path(file).parts
    for marker in ("site-packages", "src", "lib"):
        if marker in parts:
            index = len(parts) - 1 - parts[::-1].index(marker)
            rest = parts[index + 1 :]
            if marker == "lib" and rest and rest[0].startswith("python"):
                rest = rest[1:]
            return "/".join(rest)
    return Path(file).name


def main(argv: list[str]) -> None:
    if argv[:1] == ["inprocess"] and len(argv) == 5:
        target, warmups, runs, cached = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        result = inprocess(target, warmups, runs, cached)
    elif argv[:1] == ["summarize"] and len(argv) in (2, 3):
        result = summarize(argv[1], int(argv[2]) if len(argv) == 3 else 25)
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
