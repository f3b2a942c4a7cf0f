"""Where ``loopml serve``'s CPU goes under one of the benchmark's loads: py-spy (from
``bench/.venvs/loadgen``) samples the server while the load generator runs, and the
functions taking the most samples are printed, by own time and with callees.

    python bench/serve/profile_loopml.py [one|eight|batch|rf-one] [--endpoint v2|invocations]

Samples are of threads on a CPU (py-spy's default, idle threads left out). Time spent in
C code under the event loop (uvloop, httptools, socket calls) shows as the Python frame
that entered it: ``Runner.run`` for the loop itself.
"""

from __future__ import annotations

import argparse
import collections
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools

import _measure as m
import _servers as s
from _venvs import venvs

from _tools import ROOT, run_checked, say

LOADS = {
    "one": ("ws-one", "bc", m.ONE_CLIENT, "1"),
    "eight": ("ws-one", "bc", {**m.EIGHT_CLIENTS, "count": 8000}, "1"),
    "batch": ("ws-one", "bc", {**m.BATCH, "count": 300}, "1000"),
    "rf-one": ("ws-rf", "rf", {**m.RF_ONE_CLIENT, "count": 1000}, "1"),
}
WAITING = (
    "select (",
    "epoll",
    "wait (threading.py",
    "_worker (concurrent",
    "_calling_thread (loopml",  # a batcher's thread waiting for work (a call is under it)
)


def top(raw: Path, count: int = 25) -> str:
    """The functions with the most samples in py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    under: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")[1:]]
        if not frames or any(word in frames[-1] for word in WAITING):
            continue
        total += int(samples)
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            under[frame] += int(samples)
    lines = [f"{total} samples on CPU", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(count)]
    lines.append("with callees (loopml's and the HTTP stack's):")
    chosen = [(f, n) for f, n in under.most_common() if "loopml/" in f or "uvicorn/" in f]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in chosen[: count * 2]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("load", choices=sorted(LOADS), nargs="?", default="eight")
    parser.add_argument("--endpoint", choices=["v2", "invocations"], default="v2")
    options = parser.parse_args()
    folder, deployment, spec, rows = LOADS[options.load]
    venvs(("loopml", "loadgen"))  # loopml's serving venv, the load generator's (py-spy)
    with tempfile.TemporaryDirectory(prefix="loopml-bench-profile-") as scratch_dir:
        scratch = Path(scratch_dir)
        env = s._env(PYTHONPATH=str(ROOT / "src"))
        here = Path(__file__).resolve().parent
        run_checked(
            [sys.executable, str(here / "setup_models.py"), scratch_dir], timeout=600, env=env
        )
        server = s.loopml(scratch / folder, [deployment])
        try:
            server.start(scratch)
            assert server.process is not None
            raw = scratch / "profile.txt"
            spy = subprocess.Popen(
                [str(s.VENVS / "loadgen" / "bin" / "py-spy"), "record", "--pid",
                 str(server.process.pid), "--format", "raw", "-o", str(raw), "--threads",
                 "--duration", str(int(spec["seconds"]) + 30)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1)
            found = m.load(server, f"{options.endpoint}:{deployment}", scratch, spec, rows)
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has, as on Ctrl-C
            spy.wait(timeout=60)
        finally:
            server.stop()
        say(f"{found['ok']} requests, server CPU {found['server_cpu_ms']:.3f} ms a request")
        print(top(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
