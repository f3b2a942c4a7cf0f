"""Finding runs with loopml.tracking: search_runs pages through runs meeting a condition,
in an order, with cursors; find_run finds one by the end of its id."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import loopml
from loopml.errors import InvalidInput, NotFound
from loopml.store import RunStatus
from loopml.store.query import Compare, Constant, Field, RunOrder
from loopml.tracking import Page, RunSummary, compare_runs, find_run, run_detail, search_runs


@pytest.fixture(scope="module")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace holding ten runs over C with an AUC that rises with C, a child of the
    last, and a failed one; and their ids. Made once for the module."""
    root = tmp_path_factory.mktemp("search-template") / "here"
    root.mkdir()
    ids = {}
    with loopml.init(root) as ws:
        for i in range(10):
            with loopml.start_run("svm", workspace=ws, params={"C": i / 10}) as run:
                loopml.log_metric("auc", 0.5 + i / 100)
            ids[f"C={i / 10}"] = run.id
        with loopml.start_run("fold", workspace=ws, parent=run.id) as child:
            loopml.log_metric("auc", 0.99)
        ids["child"] = child.id
        with pytest.raises(RuntimeError), loopml.start_run("svm", workspace=ws) as failed:
            raise RuntimeError("out of memory")
        ids["failed"] = failed.id
    return root, ids


@pytest.fixture
def ws(tmp_path: Path, request: pytest.FixtureRequest):
    """A new workspace; for a test that asks for ``trained`` too, a fresh copy of the
    workspace ``trained_template`` made."""
    root = tmp_path / "here"
    if "trained" in request.fixturenames:
        template, _ = request.getfixturevalue("trained_template")
        shutil.copytree(template, root, symlinks=True)
        with loopml.workspace(root) as ws:
            yield ws
        return
    root.mkdir()
    with loopml.init(root) as ws:
        yield ws


@pytest.fixture
def trained(ws: loopml.Workspace, trained_template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    """``ws`` holds the runs of trained_template; their ids."""
    return trained_template[1]


def every_page(**query: object) -> list[list[RunSummary]]:
    pages = []
    cursor = None
    while True:
        page = search_runs(cursor=cursor, **query)  # type: ignore[arg-type]
        pages.append(list(page.items))
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_pages_follow_one_another_to_the_end(ws, trained) -> None:
    pages = every_page(where="params.C >= 0.3", sort="-metrics.auc", limit=3, workspace=ws)
    assert [len(page) for page in pages] == [3, 3, 1]
    aucs = [found.metrics["auc"] for page in pages for found in page]
    assert aucs == sorted(aucs, reverse=True)
    assert [found.run.params["C"] for found in pages[0]] == [0.9, 0.8, 0.7]
    newest = every_page(limit=5, workspace=ws)
    assert [found.run.id for found in newest[0][:2]] == [trained["failed"], trained["child"]]
    assert sum(len(page) for page in newest) == 12


def test_a_page_is_a_list_of_runs_with_their_latest_metrics(ws, trained) -> None:
    page = search_runs("metrics.auc > 0.95", workspace=ws)
    assert isinstance(page, Page)
    assert page.next_cursor is None  # everything fits
    (found,) = page.items
    assert found.run.id == trained["child"]
    row = found.to_dict()
    assert row["metrics"] == {"auc": 0.99}
    assert row["parent"] == trained["C=0.9"]
    assert row["seconds"] == found.seconds > 0


def test_runs_recorded_while_paging_do_not_shift_the_pages(ws, trained) -> None:
    first = search_runs(kind="training", limit=4, workspace=ws)
    with loopml.start_run("svm", workspace=ws, params={"C": 5.0}):
        pass  # newer than every run listed: it would come first
    seen = [found.run.id for found in first.items]
    cursor = first.next_cursor
    while cursor is not None:
        page = search_runs(kind="training", limit=4, cursor=cursor, workspace=ws)
        seen += [found.run.id for found in page.items]
        cursor = page.next_cursor
    now = [found.run.id for page in every_page(kind="training", workspace=ws) for found in page]
    assert seen == now[1:]  # every run once, but the one recorded after the first page


def test_filters_by_kind_name_status_and_parent(ws, trained) -> None:
    failed = search_runs(status="failed", workspace=ws).items
    assert [found.run.id for found in failed] == [trained["failed"]]
    assert search_runs(status=RunStatus.FAILED, workspace=ws).items == failed
    children = search_runs(parent=trained["C=0.9"][-12:], workspace=ws).items
    assert [found.run.id for found in children] == [trained["child"]]
    assert len(search_runs(name="svm", limit=100, workspace=ws)) == 11


def test_conditions_and_orders_as_trees(ws, trained) -> None:
    where = Compare((Field("params", "C"), Constant(0.5)), ("<",))
    order = RunOrder(Field("metrics", "auc"))
    page = search_runs(where, order, limit=2, workspace=ws)
    assert [found.run.params["C"] for found in page.items] == [0.0, 0.1]
    assert page.items == search_runs("params.C < 0.5", "metrics.auc", limit=2, workspace=ws).items


def test_a_cursor_not_given_by_this_query_is_refused(ws, trained, tmp_path: Path) -> None:
    page = search_runs("params.C > 0.1", limit=2, workspace=ws)
    for cursor in ("nonsense", "", page.next_cursor[:-3] + "xyz", "e30"):  # e30: "{}"
        with pytest.raises(InvalidInput, match="not a cursor loopml gave") as error:
            search_runs("params.C > 0.1", limit=2, cursor=cursor, workspace=ws)
        assert error.value.field == "cursor"
    with pytest.raises(InvalidInput, match="another listing or query") as error:
        search_runs("params.C > 0.2", limit=2, cursor=page.next_cursor, workspace=ws)
    assert error.value.field == "cursor"
    (tmp_path / "other").mkdir()
    with loopml.init(tmp_path / "other") as elsewhere, pytest.raises(InvalidInput) as error:
        search_runs("params.C > 0.1", limit=2, cursor=page.next_cursor, workspace=elsewhere)
    assert error.value.field == "cursor"
    assert "does not have" in str(error.value)


def test_bad_arguments_name_their_field(ws, trained) -> None:
    cases = [
        ({"where": "metrics.auc >"}, "where", "does not parse"),
        ({"where": "auc > 1"}, "where", "cannot read 'auc'"),
        ({"sort": "colour"}, "sort", "is not a field"),
        ({"status": "great"}, "status", "not a run status"),
        ({"limit": 0}, "limit", "out of range"),
        ({"limit": 2**63}, "limit", f"limit {2**63} is out of range"),
        ({"parent": "0123"}, "parent", "too short"),
    ]
    for arguments, field, message in cases:
        with pytest.raises(InvalidInput, match=message) as error:
            search_runs(workspace=ws, **arguments)  # type: ignore[arg-type]
        assert error.value.field == field


def test_find_run_by_the_end_of_its_id(ws, trained) -> None:
    run_id = trained["C=0.5"]
    assert find_run(run_id[-12:], workspace=ws).id == run_id
    assert find_run(run_id.upper(), workspace=ws).id == run_id
    with pytest.raises(NotFound, match="no run has an id ending in"):
        find_run("zzzzzzzz", workspace=ws)
    with pytest.raises(InvalidInput, match="too short"):
        find_run("0123", workspace=ws)


def test_the_detail_of_a_run(ws, trained, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with loopml.start_run("fit", workspace=ws) as run:
        for loss in (0.9, 0.4, 0.6):
            loopml.log_metric("loss", loss)
        loopml.log_artifact(str(note))
        with loopml.start_run("fold"):
            pass
    detail = run_detail(run.id[-12:], workspace=ws)
    assert detail.metric_history == {
        "loss": {"points": 3, "min": 0.4, "max": 0.9, "last": 0.6, "step": 2}
    }
    shown = detail.to_dict()
    assert shown["metrics"] == {"loss": 0.6}
    assert [(e["direction"], e["artifact"]) for e in shown["events"]] == [
        ("output", "fit/note.txt@v1")
    ]
    assert [child["name"] for child in shown["children"]] == ["fold"]
    parent = run_detail(trained["C=0.9"], workspace=ws)
    assert [child.id for child in parent.children] == [trained["child"]]


def test_compare_runs_lines_up_every_param_and_latest_metric(
    ws: loopml.Workspace, trained: dict[str, str]
) -> None:
    compared = compare_runs([trained["C=0.2"], trained["failed"][-12:]], workspace=ws)
    assert [summary.run.id for summary in compared.runs] == [trained["C=0.2"], trained["failed"]]
    fields = dict(compared.fields)
    assert [name for name, _ in compared.fields] == ["status", "seconds", "params.C", "metrics.auc"]
    assert fields["status"] == ["succeeded", "failed"]
    assert fields["params.C"] == [0.2, None]
    assert fields["metrics.auc"] == [pytest.approx(0.52), None]
    assert compared.differs("params.C")
    same = compare_runs([trained["C=0.3"], trained["C=0.3"]], workspace=ws)
    assert not same.differs("params.C")
    assert not same.differs("metrics.auc")


def test_compare_runs_needs_two(ws: loopml.Workspace, trained: dict[str, str]) -> None:
    for refs in ([trained["C=0.2"]], trained["C=0.2"]):
        with pytest.raises(InvalidInput) as error:
            compare_runs(refs, workspace=ws)
        assert error.value.field == "refs"
    with pytest.raises(NotFound):
        compare_runs([trained["C=0.2"], "000000000000"], workspace=ws)


def test_a_run_whose_process_was_killed_is_listed_killed_not_running(tmp_path: Path) -> None:
    """A script SIGKILLed inside its run leaves the run ``running`` in the store; the
    next listing or showing of runs on this machine marks it killed. A run of a process
    that lives stays running."""
    import signal
    import subprocess
    import sys

    script = (
        "import sys, time, loopml\n"
        "with loopml.start_run('train', workspace=loopml.workspace(sys.argv[1])) as run:\n"
        "    loopml.log_metric('loss', 0.5)\n"
        "    print(run.id, flush=True)\n"
        "    time.sleep(120)\n"
    )
    with loopml.init(tmp_path) as ws:
        with subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
        ) as killed:
            assert killed.stdout is not None
            killed_id = killed.stdout.readline().strip()
            killed.send_signal(signal.SIGKILL)
        with subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
        ) as living:
            assert living.stdout is not None
            living_id = living.stdout.readline().strip()
            try:
                assert ws.store.get_run(killed_id).status is RunStatus.RUNNING  # as left
                found = {s.run.id: s.run.status for s in search_runs(workspace=ws).items}
                assert found == {killed_id: RunStatus.KILLED, living_id: RunStatus.RUNNING}
                detail = run_detail(killed_id, workspace=ws)
                assert detail.run.status is RunStatus.KILLED
                assert "ended before it finished" in (detail.run.error or "")
            finally:
                living.kill()
