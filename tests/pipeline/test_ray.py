"""The Ray runner on a real local Ray: the same runs and artifacts as the other runners,
steps at once, failures kept, a cluster reached at an address, and nothing of Ray's
listening anywhere but on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_runners import DIAMOND, outputs

import loopml
from loopml.errors import InvalidInput, StepFailed
from loopml.pipeline import load_pipeline
from loopml.store import RunStatus

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

FAILING = """
import loopml

@loopml.step
def first() -> int:
    return 1

@loopml.step
def second(value: int) -> int:
    raise ValueError(f"second cannot take {value}")

@loopml.pipeline
def breaks():
    return second(first())
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    monkeypatch.setenv("LOOPML_TEST_MEETING", str(meeting))
    (tmp_path / "diamond.py").write_text(textwrap.dedent(DIAMOND))
    (tmp_path / "breaks.py").write_text(textwrap.dedent(FAILING))
    (tmp_path / "ws").mkdir()
    yield tmp_path
    for name in ("loopml_user_diamond", "loopml_user_breaks"):
        sys.modules.pop(name, None)


@pytest.fixture
def cli(cli, project: Path):
    """The ``loopml`` command, with the variable the diamond pipeline reads."""
    cli.env["LOOPML_TEST_MEETING"] = str(project / "meeting")
    return cli


class Listeners:
    """Samples the machine's listening TCP sockets (``ss -ltnp``) until stopped."""

    def __init__(self) -> None:
        if shutil.which("ss") is None:
            pytest.skip("checking where Ray listens needs ss(8) (iproute2)")
        self.seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Listeners:
        self.before = self._now()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _sample(self) -> None:
        deadline = time.monotonic() + 300
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.seen |= self._now()
            self._stop.wait(0.1)

    @staticmethod
    def _now() -> set[tuple[str, str]]:
        lines = subprocess.run(
            ["ss", "-ltnpH"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.splitlines()
        found = set()
        for line in lines:
            fields = line.split()
            address = fields[3].rpartition(":")[0].strip("[]")
            found.add((address, fields[-1] if len(fields) > 5 else ""))
        return found

    def new(self) -> set[tuple[str, str]]:
        return self.seen - self.before


LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def test_ray_runs_steps_at_once_with_the_artifacts_of_the_local_runner(project: Path) -> None:
    pipeline = load_pipeline(f"{project / 'diamond.py'}:diamond")
    with loopml.init(project / "ws") as ws:
        with Listeners() as listening:
            # wait=True: left and right each wait for the other, so both ran at once.
            result = pipeline.run(workspace=ws, echo=False, runner="ray", workers=2, wait=True)
        assert result.value == {"sum": 6, "max": 3}
        runs = ws.store.find_runs(parent_id=result.run_id)
        assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
        assert os.getpid() not in {r.pid for r in runs}  # in Ray's workers
        assert ws.store.get_run(result.run_id).tags["runner"] == "ray"

        local = pipeline.run(workspace=ws, echo=False, force=True, wait=True)
        assert outputs(ws, result) == outputs(ws, local)
        processes = pipeline.run(workspace=ws, echo=False, runner="processes", force=True)
        assert outputs(ws, processes) == outputs(ws, local)
        cached = pipeline.run(workspace=ws, echo=False, runner="ray")
        assert {s.status for s in cached.steps} == {"cached"}
        # All cached: recorded here, with no Ray started for it.
        assert {r.pid for r in ws.store.find_runs(parent_id=cached.run_id)} == {os.getpid()}

    ray_listeners = {(a, p) for a, p in listening.new() if "raylet" in p or "gcs_server" in p}
    assert ray_listeners, "Ray's own servers were never seen listening"
    elsewhere = {(a, p) for a, p in listening.new() if a not in LOOPBACK}
    assert not elsewhere, f"listening beyond 127.0.0.1 during the run: {elsewhere}"


def test_a_failing_step_on_ray_fails_the_pipeline_and_keeps_what_ran(project: Path) -> None:
    pipeline = load_pipeline(f"{project / 'breaks.py'}:breaks")
    with loopml.init(project / "ws") as ws:
        with pytest.raises(StepFailed, match="second cannot take 1") as raised:
            pipeline.run(workspace=ws, echo=False, runner="ray", workers=1)
        failed = ws.store.get_run(raised.value.run_id)
        assert failed.status == RunStatus.FAILED
        assert 'raise ValueError(f"second cannot take {value}")' in raised.value.traceback
        assert ws.store.get_run(failed.parent_id).status == RunStatus.FAILED
        first = [
            r for r in ws.store.find_runs(parent_id=failed.parent_id) if r.name.endswith("first")
        ]
        assert [r.status for r in first] == [RunStatus.SUCCEEDED]
        assert ws.latest("output", "breaks/first") is not None  # kept for the next run


HOLD_A_CLUSTER = """
import os, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
import ray
context = ray.init(num_cpus=2, include_dashboard=False)
print(context.address_info["gcs_address"], flush=True)
sys.stdin.read()  # until the test closes it
ray.shutdown()
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """The address of a Ray cluster that outlives the runs against it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    address = holder.stdout.readline().strip()
    try:
        assert address.startswith("127.0.0.1:"), f"the cluster did not start: {address!r}"
        yield address
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(timeout=30)


def test_the_cli_runs_on_a_cluster_at_an_address_and_reuses_its_cache(
    project: Path, cluster: str, cli
) -> None:
    cli("init", cwd=project / "ws", check=True)
    target = f"{project / 'diamond.py'}:diamond"
    first = cli("run", target, "--runner", "ray", "--address", cluster, cwd=project / "ws")
    assert first.code == 0, first
    assert "4 ran, 0 cached" in first.out
    again = cli("run", target, "--runner", "ray", "--address", cluster, cwd=project / "ws")
    assert again.code == 0, again
    assert "0 ran, 4 cached" in again.out


def test_bad_ray_options_say_what_to_do(project: Path, cli) -> None:
    pipeline = load_pipeline(f"{project / 'diamond.py'}:diamond")
    with loopml.init(project / "ws") as ws:
        with pytest.raises(InvalidInput, match=r"no Ray cluster answers at 127\.0\.0\.1:1"):
            pipeline.run(workspace=ws, echo=False, runner="ray", address="127.0.0.1:1")
        with pytest.raises(InvalidInput, match="add runner='ray'"):
            pipeline.run(workspace=ws, echo=False, address="127.0.0.1:1")
        assert ws.store.find_runs() == []  # nothing was started
    refused = cli(
        "run",
        f"{project / 'diamond.py'}:diamond",
        "--runner",
        "ray",
        "--address",
        "127.0.0.1:1",
        cwd=project / "ws",
    )
    assert refused.code == 2, refused
    assert "ray start --head" in refused.err
