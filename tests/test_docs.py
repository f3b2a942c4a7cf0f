"""Every code block of README.md and docs/*.md runs as written: each file's blocks in
order, in a fresh folder, in one process, as a reader would paste them (see
doc_blocks.py for what each kind of block must do). A failure names the file, the
block's first line and what went wrong."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cli_forks import Forks
from doc_blocks import DATA_LANGUAGES, RUN_LANGUAGES, Block, blocks, to_json

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# The blocks that cannot run by nature, by file and first line, with why. A block is
# left out only when it is marked `<!-- not run: WHY -->` in its file AND listed here.
NOT_RUN = {
    ("README.md", "make demo"): "sets up a virtualenv and installs packages",
    ("docs/benchmarks.md", "make bench"): "takes several minutes",
    ("docs/benchmarks.md", "make bench-data"): "takes minutes",
    ("docs/benchmarks.md", "make bench-decisions"): "takes minutes",
    ("docs/benchmarks.md", "make bench-pipeline"): "takes minutes",
    ("docs/benchmarks.md", "make bench-monitor"): "takes half an hour",
    ("docs/benchmarks.md", ".venv/bin/python bench/data/wide.py"): "takes minutes",
    ("docs/benchmarks.md", "$ .venv/bin/python bench/startup.py"): "takes a minute",
    ("docs/benchmarks.md", ".venv/bin/python bench/store/queries.py"): "takes minutes",
    ("docs/benchmarks.md", ".venv/bin/python bench/data/validate_cli.py --runs 7"): (
        "takes a minute and sets up Evidently's virtualenv"
    ),
    (
        "docs/cli.md",
        "loopml [--debug] [--version] [--install-completion | --show-completion] COMMAND",
    ): ("a synopsis of every command"),
    ("docs/architecture.md", "╭─ CLI, UI"): "a picture; test_layers.py keeps it current",
    ("docs/architecture.md", "$ .venv/bin/python tests/layers.py"): (
        "runs from the project's root, as make check does; test_layers.py runs it"
    ),
    ("docs/registry.md", "loopml models list [NAME] [--json]"): "a synopsis of the commands",
    ("docs/registry.md", "churn@v4 was not made the champion"): "an error message",
    ("docs/workspace.md", "$ loopml init --store-url postgresql://me@db/loopml"): (
        "needs a PostgreSQL server and a bucket"
    ),
    ("docs/artifacts.md", "$ loopml init --artifacts-url s3://bucket/loopml \\"): (
        "needs an S3-compatible server"
    ),
    ("docs/pipelines.md", "$ loopml run pipelines.py:churn --runner ray"): "needs Ray",
    ("docs/pipelines.md", "* * * * *  cd /srv/project"): "a crontab line",
    ("docs/evaluation.md", "InvalidInput: data has no label column"): "error messages",
    ("docs/gate.md", "InvalidInput: the candidate was evaluated on"): "an error message",
    ("docs/models.md", "InvalidInput: builtins.dict cannot be saved"): "an error message",
    ("docs/models.md", "ModelVersionWarning: model churn@v3 was saved"): "a warning",
    ("docs/models.md", "InvalidInput: input does not match"): "an error message",
    ("docs/monitoring.md", "$ loopml monitor churn --every 1h --since 6h --baseline 1"): (
        "its output, with the hours of the day it was run"
    ),
    ("docs/review.md", "prediction log ─▶ review add"): "a picture",
}


def _listed(block: Block) -> tuple[str, str] | None:
    """The entry of NOT_RUN for ``block`` (the longest first line that matches)."""
    matches = [key for key in NOT_RUN if key[0] == block.doc and block.first.startswith(key[1])]
    return max(matches, key=lambda key: len(key[1]), default=None)


def test_every_block_runs_or_is_marked_and_listed() -> None:
    wrong = []
    listed = set()
    for path in DOCS:
        for block in blocks(path, ROOT):
            key = _listed(block)
            if key is not None:
                listed.add(key)
            if block.not_run is not None and key is None:
                wrong.append(f"{block.where} is marked not run but not listed in NOT_RUN")
            elif key is not None and block.not_run is None:
                wrong.append(f"{block.where} is listed in NOT_RUN; mark it <!-- not run: ... -->")
            elif block.not_run is None and not _runs(block):
                wrong.append(
                    f"{block.where} has language {block.language!r}: give it one of "
                    f"{', '.join([*RUN_LANGUAGES, *DATA_LANGUAGES])}, or mark and list it "
                    "if it cannot run by nature"
                )
    wrong += [f"NOT_RUN lists {key}, which no block matches" for key in set(NOT_RUN) - listed]
    assert not wrong, "\n".join(wrong)


def _runs(block: Block) -> bool:
    return block.language in RUN_LANGUAGES or block.language in DATA_LANGUAGES


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_the_blocks_run_as_written(path: Path, tmp_path: Path, cli_forks: Forks) -> None:
    failure = run_doc(path, ROOT, tmp_path, cli_forks)
    if failure is not None:
        pytest.fail(failure, pytrace=False)


def test_a_failure_names_the_file_the_block_and_what_failed(
    tmp_path: Path, cli_forks: Forks
) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(
        "```python\nanswer = 6 * 7\n```\n\n"
        "```console\n$ test 42 = 42\n$ loopml models show flowers@v1\n"
        "error: no model named 'flowers'\n$ false\n```\n"
    )
    failure = run_doc(doc, tmp_path, tmp_path / "run", cli_forks)
    assert failure is not None
    first, *rest = failure.splitlines()
    assert first == (
        "guide.md:5 (the block starting '$ test 42 = 42'): expected exit code 0, got 1"
    )
    assert rest[0] == "$ false"
    doc.write_text("```python\nimport loopml\nloopml.data.get('sales@v9')\n```\n")
    failure = run_doc(doc, tmp_path, tmp_path / "again", cli_forks)
    assert failure is not None
    assert failure.startswith("guide.md:1 (the block starting 'import loopml'): it raised:")
    assert "WorkspaceNotFound" in failure


def run_doc(path: Path, root: Path, tmp_path: Path, forks: Forks) -> str | None:
    """Run a Markdown file's blocks in a fresh folder; what failed, or None. The runner
    and the `loopml` commands run in processes forked from one that has imported loopml
    (cli_forks.py): each a process of its own, as a reader's would be."""
    import json

    found = [b for b in blocks(path, root) if b.not_run is None and _runs(b)]
    if not found:
        return None
    tmp_path.mkdir(exist_ok=True)
    given, report = tmp_path / "blocks.json", tmp_path / "report.json"
    given.write_text(to_json(found))
    folder = tmp_path / "reader"
    folder.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    commands = tmp_path / "bin"
    commands.mkdir()
    if forks.command(Path(sys.executable).with_name("loopml"), environment, commands):
        environment["DOC_BLOCKS_BIN"] = str(commands)
    runner = Path(__file__).with_name("doc_blocks.py")
    done = forks.python([runner, given, report], folder, environment, timeout=900)
    if not report.exists():
        return f"{path.name}: the runner itself failed:\n{done.stdout}\n{done.stderr}"
    result = json.loads(report.read_text())
    if result["block"] is None:
        return None
    block = found[result["block"]]
    return f"{block.where}: {result['what']}"
