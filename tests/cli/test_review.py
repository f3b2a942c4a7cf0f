"""`loopml review` and `loopml data guidelines` in real processes: a queue filled from
a real model's logged predictions, worked through by two reviewers (one at the
command line, one by a filled-in file), their agreement, and the commit; bad input is
one line naming the thing and the fix (exit 2), and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from tests.monitor.reviewing import T0, answers, breast_cancer, train

import loopml
from cli_checks import assert_user_error
from loopml._ids import new_id
from loopml.models import Predictor
from loopml.serve import PredictionLog, PredictionRecord

GUIDE = "# Breast cancer\n\nLabel 1 (benign) when the cells are regular.\n"


@pytest.fixture
def project(cli, tmp_path: Path) -> Path:
    """bc@v1, trained on bc-train, answered 80 rows of breast_cancer (logged in 2026)."""
    with loopml.init(tmp_path) as ws:
        train(ws)
        X, _ = breast_cancer()
        answers(ws, "bc@v1", X.iloc[:80])
    (tmp_path / "guide.md").write_text(GUIDE)
    return tmp_path


def test_a_queue_from_filling_to_commit(cli, project: Path) -> None:
    cli("data", "guidelines", "bc-train", "guide.md", check=True)
    since = ("--since", "2025-12-31")
    added = cli("review", "add", "bc", "--below", "0.97", "--audit", "5", "--seed", "1",
                "--labels", "2", *since)  # fmt: skip
    assert added.code == 0, added
    assert "item(s) added to review queue bc" in added.out
    shown = json.loads(cli("review", "list", "bc", "--json", check=True).out)
    assert shown
    assert {item["status"] for item in shown} == {"open"}
    assert {item["dataset"] for item in shown} == {"bc-train"}
    count = len(shown)
    # ann works at the command line
    task = json.loads(cli("review", "next", "bc", "--reviewer", "ann", "--json", check=True).out)
    assert task["id"] == shown[0]["id"]
    assert task["guidelines"]["text"] == GUIDE
    text = cli("review", "next", "bc", "--reviewer", "ann", check=True).out
    assert f"item {task['id'][-12:]} of queue bc" in text
    assert "mean radius = " in text
    assert "Label 1 (benign)" in text
    label = cli("review", "label", task["id"][-12:], str(task["guess"]), "--reviewer", "ann",
                "--note", "clear case")  # fmt: skip
    assert label.code == 0, label
    assert "1 of 2 label(s)" in label.out
    # bob labels everything in a spreadsheet: the guess, but the other class for the first
    assert cli("review", "export", "bc", "todo.csv", check=True).code == 0
    todo = pl.read_csv(project / "todo.csv", infer_schema=False)
    assert todo.height == count
    flipped = todo.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then((1 - pl.col("guess").cast(pl.Int64)).cast(pl.String))
        .otherwise(pl.col("guess"))
        .alias("label")
    )
    flipped.write_csv(project / "todo.csv")
    imported = cli("review", "import", "todo.csv", "--reviewer", "bob")
    assert imported.code == 0, imported
    assert f"{count} label(s) recorded" in imported.out
    agreement = json.loads(cli("review", "agreement", "bc", "--json", check=True).out)
    assert (agreement["method"], agreement["items"]) == ("cohen", 1)
    assert [r["reviewer"] for r in agreement["reviewers"]] == ["ann", "bob"]
    # the first item's labels tie; the others want a second label: nothing to commit
    assert_user_error(cli("review", "commit", "bc"), "1 labelled with reviewers tied")
    cli("review", "label", task["id"], str(task["guess"]), "--reviewer", "cy", check=True)
    done = json.loads(
        cli("review", "commit", "bc", "--dataset", "bc-reviewed", "--json", check=True).out
    )
    assert (done["dataset"], done["items"], done["rows"], done["tied"]) == (
        "bc-reviewed@v1",
        1,
        1,
        0,
    )
    committed = json.loads(cli("review", "list", "bc", "--status", "committed", "--json").out)
    assert [item["id"] for item in committed] == [task["id"]]
    assert committed[0]["consensus"] == task["guess"]


def test_commit_after_every_item_is_agreed(cli, project: Path) -> None:
    cli("review", "add", "bc", "--audit", "6", "--seed", "2", "--since", "2025-12-31", check=True)
    items = json.loads(cli("review", "list", "bc", "--json", check=True).out)
    for item in items:
        cli("review", "label", item["id"], str(item["guess"]), "--reviewer", "ann", check=True)
    done = cli("review", "commit", "bc")
    assert done.code == 0, done
    assert "bc-train@v2: 6 reviewed row(s) of queue bc" in done.out
    # the dataset's latest version shrank to the reviewed rows: said, with the fix
    assert "note: bc-train@v2 holds the reviewed rows alone, where bc-train@v1 held" in done.out
    assert "--append" in done.out
    rows = json.loads(cli("data", "show", "bc-train@v2", "--json", check=True).out)
    assert rows["metadata"]["rows"] == 6
    assert len(json.loads(cli("review", "list", "bc", "--status", "committed", "--json").out)) == 6
    assert_user_error(cli("review", "commit", "bc"), "no labelled item to commit")


def test_a_label_that_ties_an_agreed_item_says_its_consensus_is_gone(cli, project: Path) -> None:
    cli("review", "add", "bc", "--audit", "1", "--seed", "3", "--since", "2025-12-31", check=True)
    (item,) = json.loads(cli("review", "list", "bc", "--json", check=True).out)
    guess, other = item["guess"], 1 - item["guess"]
    first = cli("review", "label", item["id"], str(guess), "--reviewer", "ann", check=True)
    assert f"consensus {guess} written as feedback" in first.out
    second = cli("review", "label", item["id"], str(other), "--reviewer", "bob", check=True)
    assert f"its 2 labels tie ({guess} by ann, {other} by bob): no consensus" in second.out
    assert "one written before is withdrawn" in second.out


def test_guidelines_at_the_command_line(cli, project: Path) -> None:
    assert_user_error(cli("data", "guidelines", "bc-train"), "has no labelling guidelines")
    kept = cli("data", "guidelines", "bc-train", "guide.md", "--json", check=True)
    assert json.loads(kept.out)["version"] == 1
    assert json.loads(kept.out)["changed"] is True
    again = cli("data", "guidelines", "bc-train", "guide.md", check=True)
    assert "unchanged (v1)" in again.out
    shown = cli("data", "guidelines", "bc-train", check=True).out
    assert shown.startswith("<!-- guidelines v1 of dataset bc-train -->\n")
    assert shown.endswith(GUIDE)
    (project / "empty.md").write_text("  \n")
    assert_user_error(cli("data", "guidelines", "bc-train", "empty.md"), "are empty")
    assert_user_error(cli("data", "guidelines", "nothing", "guide.md"), "'nothing'")
    assert_user_error(cli("data", "guidelines", "bc-train", "gone.md"), "gone.md")


BAD = [
    (["add", "bc"], ["no rule to pick rows with", "--below", "--audit"]),
    (["add", "bc", "--below", "2"], ["below 2.0", "at most 1"]),
    (["add", "bc", "--disagree", "previous", "--since", "2025-12-31"], ["previous champion"]),
    (["add", "bc", "--audit", "3", "--queue", "a b"], ["review queue name 'a b'"]),
    (["add", "bc", "--audit", "3", "--since", "someday"], ["--since 'someday'"]),
    (["add", "bc", "--flagged", "nope.csv"], ["--flagged nope.csv"]),
    (["list", "bc", "--status", "done"], ["--status 'done'", "open, labelled"]),
    (["next", "bc", "--lease", "forever"], ["--lease 'forever'", "30m"]),
    (["next", "a b"], ["review queue name 'a b'"]),
    (["label", "ffffffffffff", "1"], ["no review item has an id ending in 'ffffffffffff'"]),
    (["label", "abc", "1"], ["12 characters"]),
    (["export", "bc", "out.xlsx"], [".csv, .parquet or .jsonl"]),
    (["import", "missing.csv"], ["cannot read missing.csv"]),
    (["commit", "bc"], ["no labelled item to commit"]),
    (["agreement", "../x"], ["review queue name '../x'"]),
    # a queue with no item ever is a typo, not a queue with nothing left to do
    (["next", "nosuch"], ["no review queue 'nosuch'", "queues: none"]),
    (["list", "nosuch"], ["no review queue 'nosuch'"]),
    (["agreement", "nosuch"], ["no review queue 'nosuch'"]),
    (["export", "nosuch", "out.csv"], ["no review queue 'nosuch'"]),
]


def test_bad_input_is_one_line_naming_the_fix(cli, project: Path) -> None:
    before = json.loads(cli("review", "list", "--json", check=True).out)
    for args, fragments in BAD:
        assert_user_error(cli("review", *args), *fragments)
    assert json.loads(cli("review", "list", "--json", check=True).out) == before == []
    assert not (project / "out.csv").exists()  # an export of no queue wrote no file


def test_add_for_a_deployment_the_workspace_never_had(cli, project: Path) -> None:
    result = cli("review", "add", "churn", "--below", "0.6")
    assert_user_error(
        result, "no deployment 'churn' in this workspace", "`loopml deployments list`"
    )
    assert json.loads(cli("review", "list", "--json", check=True).out) == []


def test_below_on_a_regressor_says_it_needs_a_classifier(cli, tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with loopml.init(tmp_path) as ws:
        loopml.register(Ridge().fit(X, y), "sugar", signature_from=X, workspace=ws)
        loopml.deploy("sugar", model="sugar@v1", workspace=ws)
        found = Predictor.load("sugar@v1", workspace=ws).predict(X.iloc[:4])
        log = PredictionLog(ws)  # as the server logs a regressor's answer: no probabilities
        log.append(
            PredictionRecord(new_id(), None, T0, "sugar", "sugar@v1", 0, 1.0,
                             {c: X[c].to_numpy()[:4] for c in X.columns},
                             {"predictions": found.predictions}, 300, None)
        )  # fmt: skip
        log.flush()
        log.close()
    answered = cli("review", "add", "sugar", "--below", "0.6", "--since", "2025-12-31")
    assert_user_error(
        answered, "below=0.6 needs a classifier's probabilities", "answers of deployment 'sugar'"
    )
    # with no answer in the window, the deployment's version says it
    nothing = cli("review", "add", "sugar", "--below", "0.6", "--since", "2020-01-01",
                  "--until", "2020-02-01")  # fmt: skip
    assert_user_error(
        nothing, "needs a classifier's probabilities", "answers with sugar@v1 (a regressor)"
    )
    audited = cli("review", "add", "sugar", "--audit", "2", "--since", "2025-12-31")
    assert audited.code == 0, audited
    assert "2 item(s) added" in audited.out


def test_a_bad_label_and_a_bad_file_write_nothing(cli, project: Path) -> None:
    cli("review", "add", "bc", "--audit", "3", "--seed", "0", "--since", "2025-12-31", check=True)
    first = json.loads(cli("review", "list", "bc", "--json", check=True).out)[0]
    assert_user_error(
        cli("review", "label", first["id"], "benign", "--reviewer", "ann"),
        "label 'benign' is not a whole number",
    )
    cli("review", "export", "bc", "todo.csv", check=True)
    todo = pl.read_csv(project / "todo.csv", infer_schema=False)
    todo.with_columns(pl.lit("maybe").alias("label")).write_csv(project / "todo.csv")
    assert_user_error(
        cli("review", "import", "todo.csv", "--reviewer", "bob"),
        "row 1 of todo.csv: label 'maybe'",
    )
    assert_user_error(
        cli("review", "export", "bc", "todo.csv"), "other content", "--force"
    )  # the file filled in is not overwritten
    listed = json.loads(cli("review", "list", "bc", "--json", check=True).out)
    assert [item["labels"] for item in listed] == [[], [], []]
