"""The worker processes of a parallel tune die with the process that started them, even
when it is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import loopml
from processes import alive, still_running_after

SCRIPT = """
import os, time
from pathlib import Path
import loopml

STARTED = Path(os.environ["LOOPML_TEST_STARTED"])

def wait(x: float) -> float:
    (STARTED / str(os.getpid())).touch()
    time.sleep(600)  # killed meanwhile
    return x

if __name__ == "__main__":
    loopml.tune(wait, {"x": (0.0, 1.0)}, method="random", n_trials=4, parallel=2)
"""


def test_no_tuning_worker_outlives_its_parent(tmp_path: Path) -> None:
    (tmp_path / "search.py").write_text(textwrap.dedent(SCRIPT))
    loopml.init(tmp_path).close()
    started = tmp_path / "started"
    started.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    process = subprocess.Popen(
        [sys.executable, "search.py"],
        cwd=tmp_path,
        env={**env, "LOOPML_TEST_STARTED": str(started)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2:
            assert process.poll() is None, "the search ended before its trials started"
            assert time.monotonic() < deadline, "two trials never ran at once"
            workers = [int(p.name) for p in started.iterdir()]
            time.sleep(0.05)
        assert process.pid not in workers
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert still_running_after(workers, 60) == [], "tuning workers outlived their parent"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


QUICK = """
import loopml

def square(x: float) -> float:
    return (x - 0.3) ** 2

study = loopml.tune(square, {"x": (0.0, 1.0)}, method="random", n_trials=4, parallel=2)
print("best", len(study.trials))
"""


def test_parallel_workers_end_cleanly(tmp_path: Path) -> None:
    # Each worker's watch on its stdin once held the buffered file's lock as the worker
    # ended, and its interpreter died at shutdown with a "Fatal Python error".
    (tmp_path / "search.py").write_text(textwrap.dedent(QUICK))
    loopml.init(tmp_path).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    done = subprocess.run(
        [sys.executable, "search.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "best 4" in done.stdout
    assert "Fatal Python error" not in done.stderr, done.stderr
