"""`loopml loop` and `loopml decisions` as a user runs them: definitions read strictly from
a TOML file, a pass of the controller that finds nothing to do, and bad input refused
with exit 2 and nothing recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from tests.cli_checks import assert_user_error

import loopml
from loopml import registry
from loopml.errors import Conflict
from loopml.monitor import define_loop, loop_decisions, read_loops, run_loop
from loopml.monitor._lease import ControllerLease

FLOW = """
import loopml
from sklearn.linear_model import Ridge


@loopml.step
def train(table):
    return Ridge().fit(table.drop(columns="target"), table["target"])


@loopml.pipeline
def flow(data: str = "sugar@latest"):
    return train(loopml.data.get(data))
"""

LOOP = """
[loop.sugar]
deployment = "sugar-api"
model = "sugar"
pipeline = "flow.py:flow"
data = "sugar"
label = "target"
task = "regression"
window = 200

[loop.sugar.triggers]
new_labels = 100

[loop.sugar.triggers.decay]
worse_than = 60.0
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Dataset sugar, model sugar@v1 as champion, deployment sugar-api serving it."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with loopml.init(tmp_path) as ws:
        loopml.data.add(X.assign(target=y), name="sugar", label="target", workspace=ws)
        registry.register(Ridge().fit(X, y), "sugar", signature_from=X, workspace=ws)
        registry.promote("sugar@v1", force=True, reason="the first", workspace=ws)
        loopml.deploy("sugar-api", "sugar@champion", workspace=ws)
    (tmp_path / "loops.toml").write_text(textwrap.dedent(LOOP))
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    return tmp_path


def test_a_loop_is_defined_once_and_a_quiet_pass_records_nothing(cli, project: Path) -> None:
    first = cli("loop", "define", "loops.toml", check=True)
    assert "loop sugar: recorded as sugar@v1" in first.out
    again = cli("loop", "define", "loops.toml", check=True)
    assert "loop sugar: unchanged as sugar@v1" in again.out
    listed = cli("loop", "list", check=True)
    assert "sugar-api" in listed.out
    assert "none yet" in listed.out
    passed = cli("loop", "--once", "--json", check=True)
    [done] = json.loads(passed.out)["passes"]
    assert done["state"] == "idle"
    assert done["decisions"] == []
    rules = {t["rule"]: t for t in done["triggers"]}
    assert rules["new_labels"] == {
        "rule": "new_labels",
        "fired": False,
        "new_labels": 0,
        "wanted": 100,
    }
    assert rules["decay.worse_than"]["rows"] == 0  # no traffic: not judged
    # the note says which rows were read: those after the champion's last training
    note = rules["decay.worse_than"]["note"]
    assert note.startswith("fewer than 200 labelled rows after the last training ("), note
    assert note.endswith(" UTC): not judged"), note
    assert cli("decisions", "sugar", check=True).out.strip() == "loop sugar has decided nothing yet"


def test_a_typo_in_a_definition_is_refused_naming_it(cli, project: Path) -> None:
    text = (project / "loops.toml").read_text().replace("new_labels", "new_label")
    (project / "typo.toml").write_text(text)
    assert_user_error(
        cli("loop", "define", "typo.toml"), "'new_label'", "did you mean 'new_labels'"
    )
    (project / "bad.toml").write_text(LOOP.replace('task = "regression"', 'task = "ranking"'))
    assert_user_error(cli("loop", "define", "bad.toml"), "task 'ranking'")
    assert_user_error(cli("decisions", "sugar"), "no loop 'sugar'", "loopml loop define")
    (project / "elsewhere.toml").write_text(LOOP.replace("flow.py:flow", "flows.py:flow"))
    assert_user_error(cli("loop", "define", "elsewhere.toml"), "pipeline file 'flows.py' is not in")
    (project / "noname.toml").write_text(LOOP.replace("flow.py:flow", "flow.py:flo"))
    assert_user_error(
        cli("loop", "define", "noname.toml"), "has no pipeline named 'flo'", "pipelines are: flow"
    )
    (project / "nodata.toml").write_text(LOOP.replace('data = "sugar"', 'data = "sugars"'))
    assert_user_error(
        cli("loop", "define", "nodata.toml"), "dataset 'sugars', which has no version"
    )
    (project / "nomodel.toml").write_text(LOOP.replace('model = "sugar"', 'model = "sugars"'))
    assert_user_error(
        cli("loop", "define", "nomodel.toml"), "model 'sugars', which has no registered version"
    )
    (project / "noapi.toml").write_text(LOOP.replace('"sugar-api"', '"sugar-apl"'))
    assert_user_error(
        cli("loop", "define", "noapi.toml"),
        "deployment 'sugar-apl', which does not exist",
        "loopml deploy sugar-apl",
    )
    (project / "nolabel.toml").write_text(LOOP.replace('label = "target"', 'label = "tagret"'))
    assert_user_error(
        cli("loop", "define", "nolabel.toml"), "label 'tagret' is not a column of sugar@v1"
    )
    assert cli("loop", "list", check=True).out.strip().startswith("no loops are defined")
    assert "no loops are defined" in cli("loop", "--once", check=True).out


def test_a_pass_that_cannot_run_says_why_and_exits_1(cli, project: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with loopml.workspace(project) as ws:  # registered, never promoted
        registry.register(Ridge().fit(X, y), "other", signature_from=X, workspace=ws)
    (project / "other.toml").write_text(LOOP.replace('model = "sugar"', 'model = "other"'))
    cli("loop", "define", "other.toml", check=True)
    failed = cli("loop", "--once")
    assert failed.code == 1, failed
    assert "model 'other' has no champion" in failed.err
    assert "Traceback" not in failed.err


def test_one_controller_acts_at_a_time(cli, project: Path) -> None:
    cli("loop", "define", "loops.toml", check=True)
    with loopml.workspace(project) as ws:
        other = ControllerLease(ws)
        assert other.acquire()
        refused = cli("loop", "--once")
        assert refused.code == 1, refused
        assert f"controller {other.holder} holds this workspace's loop lease" in refused.err
        other.release()
    assert cli("loop", "--once", check=True).code == 0


def test_a_controller_that_lost_its_lease_records_nothing(project: Path) -> None:
    every = LOOP.replace("new_labels = 100", 'every = "1s"')
    (project / "every.toml").write_text(every)
    with loopml.workspace(project) as ws:
        [spec] = read_loops(project / "every.toml")
        define_loop(spec, workspace=ws)
        time.sleep(1.1)  # the schedule is due: the pass would record a retrain
        stale = ControllerLease(ws, ttl_seconds=0.2)
        assert stale.acquire()
        time.sleep(0.3)
        taker = ControllerLease(ws)
        assert taker.acquire()
        with pytest.raises(Conflict, match="lost the workspace's lease"):
            run_loop("sugar", workspace=ws, lease=stale)
        assert loop_decisions(ws, "sugar") == []
        with pytest.raises(Conflict, match=f"controller {taker.holder} holds"):
            run_loop("sugar", workspace=ws)  # a pass of its own takes the lease first
        done = run_loop("sugar", workspace=ws, lease=taker)
        assert [d.action for d in done.decisions] == ["retrain", "failed"]  # no traffic
        assert done.decisions[0].evidence["lease_token"] == taker.held.token == 2


def test_a_running_controller_stops_on_sigterm_and_frees_its_lease(project: Path) -> None:
    cli_bin = Path(sys.executable).with_name("loopml")
    subprocess.run([cli_bin, "loop", "define", "loops.toml"], cwd=project, check=True)
    process = subprocess.Popen(
        [cli_bin, "loop", "--every", "1s", "--lease", "1m"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        passes = [process.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert all(line.startswith("loop sugar: idle") for line in passes), passes
        with loopml.workspace(project) as ws:
            assert ws.store.lease("loop-controller") is not None  # held while it runs
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    with loopml.workspace(project) as ws:
        assert ws.store.lease("loop-controller") is None  # released on the way out


def test_a_loop_name_no_loop_has_is_a_user_error(cli, project: Path) -> None:
    """`--name` with a typo: exit 2 naming the loops defined, before any pass."""
    cli("loop", "define", "loops.toml", check=True)
    shown = cli("loop", "--once", "--name", "nosuch")
    assert_user_error(shown, "no loop 'nosuch' is defined", "defined: sugar")
