"""`loopml runs list/show/compare` on runs made with the tracking API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_input import assert_user_error

import loopml
from loopml.tracking._where import parse_where


@pytest.fixture
def runs(cli, tmp_path: Path) -> dict[str, str]:
    """Four training runs over C, with AUCs that rise with C, and one failed run."""
    ids = {}
    with loopml.init(tmp_path) as ws:
        for C, auc in [(0.1, 0.71), (0.5, 0.88), (1.0, 0.93), (2.0, 0.95)]:
            with loopml.start_run("svm", workspace=ws, params={"C": C, "kernel": "rbf"}) as run:
                loopml.log_metric("auc", auc - 0.1)
                loopml.log_metric("auc", auc)  # the latest value is the one filtered on
                loopml.log_metric("val-loss", 1 - auc)
            ids[f"C={C}"] = run.id
        with pytest.raises(RuntimeError), loopml.start_run("svm", workspace=ws) as run:
            raise RuntimeError("out of memory")
        ids["failed"] = run.id
    return ids


def listed(cli, *args: str) -> list[dict]:
    result = cli("runs", "list", "--json", *args)
    assert result.code == 0, result
    return json.loads(result.out)


def test_list_filters_on_metrics_params_and_fields(cli, runs) -> None:
    rows = listed(cli)
    assert [r["id"] for r in rows][:2] == [runs["failed"], runs["C=2.0"]]  # newest first
    good = listed(cli, "--where", "metrics.auc > 0.9 and params.C < 2")
    assert [r["id"] for r in good] == [runs["C=1.0"]]
    assert good[0]["metrics"]["auc"] == 0.93
    assert [r["params"]["C"] for r in listed(cli, "--where", 'metrics["val-loss"] < 0.1')] == [
        2.0,
        1.0,
    ]
    assert [r["id"] for r in listed(cli, "--where", "status == 'failed'")] == [runs["failed"]]
    assert [r["id"] for r in listed(cli, "--status", "failed")] == [runs["failed"]]
    assert len(listed(cli, "--where", "params.C in (0.1, 0.5) or not metrics.auc >= 0")) == 3
    assert len(listed(cli, "--limit", "2")) == 2
    table = cli("runs", "list", "--where", "params.kernel == 'rbf'", check=True).out
    assert "C=0.1" in table
    assert "auc=0.95" in table


def test_where_and_sort_read_tags(cli, runs, tmp_path: Path) -> None:
    with loopml.workspace(tmp_path) as ws:
        risk = ws.store.create_run(kind="training", name="svm", tags={"team": "risk"})
        ws.store.create_run(kind="training", name="svm", tags={"team": "growth"})
    assert [r["id"] for r in listed(cli, "--where", "tags.team == 'risk'")] == [risk.id]
    assert [r["tags"].get("team") for r in listed(cli, "--sort", "tags.team")][:2] == [
        "growth",
        "risk",
    ]


def test_show_and_compare(cli, runs) -> None:
    shown = cli("runs", "show", runs["C=0.5"][-12:], check=True).out
    assert "auc" in shown
    assert "0.88" in shown  # the last value
    assert "0.78" in shown  # its minimum
    detail = json.loads(cli("runs", "show", runs["failed"], "--json", check=True).out)
    assert detail["status"] == "failed"
    assert detail["error"] == "RuntimeError: out of memory"
    compared = json.loads(
        cli("runs", "compare", runs["C=0.1"], runs["C=2.0"], "--json", check=True).out
    )
    assert compared["params.C"] == [0.1, 2.0]
    assert compared["metrics.auc"] == [0.71, 0.95]
    table = cli("runs", "compare", runs["C=0.1"], runs["C=2.0"], check=True).out
    assert "* params.C" in table
    assert "  params.kernel" in table  # the same in both: not marked


def test_bad_runs_input(cli, runs) -> None:
    assert_user_error(cli("runs", "list", "--where", "metrics.auc >"), "does not parse")
    assert_user_error(
        cli("runs", "list", "--where", "__import__('os').system('true')"), "is not a comparison"
    )
    assert_user_error(cli("runs", "list", "--where", "auc > 1"), "cannot read 'auc'")
    assert_user_error(cli("runs", "list", "--status", "great"), "not a run status")
    assert_user_error(cli("runs", "show", "zzzzzzzz"), "no run has an id ending in")
    assert_user_error(cli("runs", "show", "0123"), "too short")
    assert_user_error(cli("runs", "compare", runs["C=0.1"]), "two or more runs")


def test_where_compares_only_like_with_like() -> None:
    where = parse_where("params.C > 1")
    assert where({"params": {"C": 2}})
    assert not where({"params": {"C": "big"}})  # text against a number: no match, no error
    assert not where({"params": {}})
    assert parse_where("metrics.a < metrics.b")({"metrics": {"a": 1, "b": 2}})
    assert parse_where("params.flag == true and params.x == null")(
        {"params": {"flag": True, "x": None}}
    )
    assert parse_where("0 < metrics.auc <= 1")({"metrics": {"auc": 1.0}})
    assert parse_where("params.C == -1")({"params": {"C": -1}})
