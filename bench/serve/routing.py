"""What choosing an arm costs a request: ``Router.choose()`` per call, for fixed routing
without a key (a random draw), sticky routing (a key hashed with BLAKE2b), and each
bandit, with rewards coming back for a share of the requests (each reward makes UCB1
and epsilon-greedy recompute their best arms, and Thompson sampling draw a new batch
of its posterior at the next choice). Target: a few microseconds for fixed routing.

Run with ``.venv/bin/python bench/serve/routing.py [--calls N]``; prints a table of
the median and p99 of batches of 1,000 calls, in microseconds per call, and writes
``bench/results/routing.json``. Timings only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools
from _tools import RESULTS, load_average, machine, print_columns, say
from loopml.serve import Router

ARMS = ["churn@v3", "churn@v4", "churn@v5"]
WEIGHTS = [0.8, 0.15, 0.05]
BATCH = 1_000

# (name, routing, keyed, share of requests rewarded)
CASES = [
    ("fixed, no key", "fixed", False, 0.0),
    ("fixed, sticky key", "fixed", True, 0.0),
    ("epsilon-greedy, 10% rewarded", "epsilon-greedy", False, 0.1),
    ("ucb1, 10% rewarded", "ucb1", False, 0.1),
    ("thompson, no rewards", "thompson", False, 0.0),
    ("thompson, 1% rewarded", "thompson", False, 0.01),
    ("thompson, 10% rewarded", "thompson", False, 0.1),
]


def measure(routing: str, keyed: bool, rewarded: float, calls: int) -> dict[str, float]:
    """Microseconds per choose() (and its share of reward() calls), per batch."""
    router = Router(ARMS, WEIGHTS, routing=routing, salt="bench", seed=0)
    rng = random.Random(0)
    keys: list[str | None] = (
        [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(BATCH)]
        if keyed
        else [None] * BATCH
    )
    rewards = [rng.random() < rewarded for _ in range(BATCH)]
    rates = [0.05, 0.10, 0.08]
    per_call = []
    for _ in range(max(calls // BATCH, 1)):
        started = time.perf_counter_ns()
        for key, give in zip(keys, rewards, strict=True):
            arm, _ = router.choose(key)
            if give:
                router.reward(arm, 1.0 if rng.random() < rates[arm] else 0.0)
        per_call.append((time.perf_counter_ns() - started) / BATCH / 1_000)
    per_call.sort()
    return {
        "median_us": statistics.median(per_call),
        "p99_us": per_call[min(len(per_call) - 1, int(len(per_call) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per case")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "load_average": load_average(), "cases": {}}
    lines = []
    for name, routing, keyed, rewarded in CASES:
        say(f"measuring {name}")
        found = measure(routing, keyed, rewarded, args.calls)
        results["cases"][name] = found
        lines.append(
            {
                "case": name,
                "median": f"{found['median_us']:.2f}",
                "p99": f"{found['p99_us']:.2f}",
            }
        )
    print_columns({"case": "choose()", "median": "median us/call", "p99": "p99 us/call"}, lines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "routing.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
