"""Hypothesis over the CLI's arguments and files (the inputs: ``fuzz_inputs.py``).

Whatever the input — names, refs, versions, URLs, ``--where`` expressions, numbers,
a garbled ``loopml.toml``, schema YAML, CSV or Parquet — a command must:

- never print "internal error" or a traceback;
- exit with a code it documents: 0; 2 for an error, as one line ``error: ...`` (usage
  errors too); 1 only where the command gives it a meaning (``verify`` found damage,
  ``data validate`` found an error, ``status`` found a stale step);
- change no file it was not told to write. Every entry of the example's folder (the
  workspace, and the current folder) is compared before and after: type, mode and
  content. The store's database may change only for a command that records
  something; a stored blob never changes; a destination named on the command line may
  be made, but what was there already is kept (without ``--force`` nothing is
  overwritten); a failed ``init`` leaves its folder empty; no ``.part`` file is left.

Each example runs the command line in this process through Click's test runner (a new
process costs ~0.5 s an example), in a fresh copy of a small workspace;
``test_a_sample_in_real_processes`` runs a sample of the same inputs as real processes.
Each test stops drawing new examples after ``TIME_CAP`` seconds (a failure found is
still shrunk), so the file stays well under a minute.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fuzz_inputs import (
    EXIT_1,
    Command,
    artifact_urls,
    csv_texts,
    deployment_commands,
    option_commands,
    option_pairs,
    reference_commands,
    store_urls,
    toml_texts,
    yaml_texts,
)
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from cli_checks import tree

TIME_CAP = 4.0  # seconds of new examples per test

# Blobs never change; .loopml/checkouts holds read-only copies of them that any
# command may make on a first read; the stat cache (file state -> digest) is kept up
# to date by any command that hashes a file.
BLOBS = ".loopml/artifacts/blobs/"
CHECKOUTS = ".loopml/checkouts/"
CACHES = (".loopml/stat-cache",)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,  # writes nothing into the repository
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )


class Budget:
    """The time cap: once spent, the examples still to come pass without running (a
    rejected one would make Hypothesis draw many more); once one has failed, every
    example runs, so that Hypothesis can shrink the failure."""

    def __init__(self, seconds: float = TIME_CAP) -> None:
        self.seconds = seconds
        self.started: float | None = None
        self.failed = False

    def run(self, example: Callable[[], None]) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        if not self.failed and now - self.started > self.seconds:
            return
        try:
            example()
        except BaseException:
            self.failed = True
            raise


# -- the workspace every example starts from -----------------------------------------


@dataclass
class Template:
    root: Path
    run_id: str
    port: int  # nothing listens on it
    parquet: bytes

    def fill(self, command: Command) -> Command:
        return command.filled(self.port, self.run_id)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A workspace with datasets d (v1, v2, a label) and f (a folder), file n, a run,
    model m (champion), a pipeline file, and files to aim commands at."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import loopml
    from loopml import registry
    from loopml.data._versions import add_version
    from loopml.store import MetricPoint, RunStatus

    root = tmp_path_factory.mktemp("fuzz-template")
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 10, 40),
            "b": rng.normal(size=40),
            "c": rng.choice(["x", "y"], 40),
            "y": rng.integers(0, 2, 40),
        }
    )
    with loopml.init(root) as ws:
        frame.to_csv(root / "d.csv", index=False)
        add_version(ws, root / "d.csv", name="d", label="y")
        frame.assign(b=frame.b + 3).to_csv(root / "d.csv", index=False)
        add_version(ws, root / "d.csv", name="d", label="y")
        frame.to_parquet(root / "d.parquet")
        (root / "files").mkdir()
        (root / "files" / "a.txt").write_text("one")
        add_version(ws, root / "files", name="f")
        (root / "keep.txt").write_text("keep me")
        ws.add_file(root / "keep.txt", name="n")
        run = ws.store.create_run(kind="train", name="fit", params={"C": 1.0})
        ws.store.log_metrics(run.id, [MetricPoint("auc", 0.8, step=1)])
        ws.store.finish_run(run.id, RunStatus.SUCCEEDED)
        features = frame[["a", "b"]]
        model = LogisticRegression().fit(features, frame.y)
        registry.register(model, "m", signature_from=features, workspace=ws)
        registry.promote("m@v1", force=True, reason="the fuzz test's model", workspace=ws)
    (root / "flow.py").write_text(
        "import loopml\n\n"
        "@loopml.step\n"
        "def numbers(n: int, rate: float, label: str) -> list:\n"
        "    return [n * rate, label]\n\n"
        "@loopml.pipeline\n"
        "def flow(n: int = 3, rate: float = 0.5, label: str = 'x'):\n"
        "    return numbers(n, rate, label)\n"
    )
    (root / "out").mkdir()
    (root / "out" / "existing.csv").write_text("already,here\n")
    (root / "link.csv").symlink_to("keep.txt")
    return Template(root, run.id, closed_port(), (root / "d.parquet").read_bytes())


def fresh_copy(template: Template, into: Path) -> Path:
    """A copy of the template in a new folder, with a FIFO (which cannot be copied)."""
    target = into / f"ws-{time.monotonic_ns()}"
    shutil.copytree(template.root, target, symlinks=True)
    os.mkfifo(target / "pipe")
    return target


def snapshot(root: Path) -> dict[str, Any]:
    # SQLite's -wal and -shm files come and go with its connections.
    return {p: e for p, e in tree(root).items() if not p.endswith(("-wal", "-shm", "-journal"))}


# -- running one command line in this process ----------------------------------------


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def safe_env(template: Template, **extra: str) -> dict[str, str | None]:
    """None of the machine's LOOPML_*, AWS_* or PG* settings; every default address
    127.0.0.1 on a closed port; an editor that exits at once."""
    closed = str(template.port)
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("LOOPML_", "AWS_", "PG"))
    }
    env.update(
        PGHOST="127.0.0.1",
        PGPORT=closed,
        PGCONNECT_TIMEOUT="2",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed}",
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        EDITOR="false",
        VISUAL="false",
    )
    env.update(extra)
    return env


def invoke(args: list[str], cwd: Path, env: dict[str, str | None]) -> Outcome:
    """``loopml ARGS`` in ``cwd``, as the entry point runs it, in this process."""
    from click.testing import CliRunner

    from loopml.cli._main import main

    previous, path, modules = Path.cwd(), list(sys.path), set(sys.modules)
    os.chdir(cwd)
    try:
        with CliRunner().isolation(env=env) as (out, err, _):
            code = 0
            try:
                main(list(args))
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
            except BaseException:  # escaped the entry point: a finding, with its traceback
                import traceback

                traceback.print_exc()
                code = -1
            sys.stdout.flush()
            sys.stderr.flush()
            return Outcome(code, out.getvalue().decode(), err.getvalue().decode())
    finally:
        # A pipeline file's folder goes on sys.path and the file into sys.modules.
        os.chdir(previous)
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            if name.startswith("loopml_user_"):
                del sys.modules[name]


def check(command: Command, outcome: Outcome, before: dict[str, Any], after: dict[str, Any]):
    shown = f"{command.args!r} -> {outcome}"
    text = outcome.out + outcome.err
    assert outcome.code != -1, f"an exception escaped the CLI: {shown}"
    assert "internal error" not in text, shown
    assert "Traceback" not in text, shown
    assert outcome.code in (0, 1, 2), shown
    if outcome.code == 1:
        assert command.name in EXIT_1, f"exit 1 is not documented here: {shown}"
    if outcome.code == 2 and "Usage:" not in outcome.err:
        lines = outcome.err.strip().splitlines()
        assert lines, shown
        assert lines[-1].startswith("error: "), shown
        if command.name not in EXIT_1:
            assert len(lines) == 1, f"more than one line: {shown}"
    assert not [p for p in after if p.endswith(".part")], f"half-written file left: {shown}"
    for path, entry in before.items():
        if path.startswith(CACHES):
            continue  # kept up to date by whatever hashes a file, even a refused add
        if path.startswith((BLOBS, CHECKOUTS)):
            assert after.get(path) == entry, f"stored {path} changed: {shown}"
        elif path.startswith(".loopml/"):
            if not command.records:
                assert after.get(path) == entry, f"{path} changed by a reading command: {shown}"
        else:
            assert after.get(path) == entry, f"{path} was changed or removed: {shown}"
    for path in set(after) - set(before):
        allowed = path.startswith(".loopml/") and command.records
        allowed = allowed or f"{path}/".startswith(CHECKOUTS) or path.startswith(CACHES)
        allowed = allowed or "__pycache__" in path
        allowed = allowed or any(_within(path, told) for told in command.told)
        assert allowed, f"{path} made: {shown}"


def _within(path: str, told: str) -> bool:
    """Whether ``path`` is the destination ``told``, inside it, or a folder made to
    hold it."""
    told = os.path.normpath(told)
    inside = path == told or path.startswith(f"{told}/")
    return told == "." or inside or told.startswith(f"{path}/")


def run_in_copy(template: Template, folder: Path, command: Command) -> None:
    """Run ``command`` in a fresh copy of the template, and check what it did."""
    command = template.fill(command)
    root = fresh_copy(template, folder)
    try:
        before = snapshot(root)
        outcome = invoke(command.args, root, safe_env(template, **command.env))
        check(command, outcome, before, snapshot(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- the fuzz tests ------------------------------------------------------------------


# What is already at a destination is kept: a file, a link, a FIFO, the settings, the
# store. Always run, whatever else Hypothesis draws.
OVERWRITES = [
    Command(["data", "checkout", "d", "out/existing.csv"], told=["out/existing.csv"]),
    Command(["data", "checkout", "d@v1", "loopml.toml"], told=["loopml.toml"]),
    Command(["data", "checkout", "d", ".loopml/loopml.db"], told=[".loopml/loopml.db"]),
    Command(["artifacts", "get", "d", "link.csv", "--kind", "dataset"], told=["link.csv"]),
    Command(["artifacts", "get", "n", "pipe"], told=["pipe"]),
    Command(["data", "validate", "d", "--report", "keep.txt"], told=["keep.txt"]),
]


def overwrites(test: Callable[..., None]) -> Callable[..., None]:
    """``test`` with every command of OVERWRITES as an explicit example."""
    for command in OVERWRITES:
        test = example(command)(test)
    return test


def test_references_names_and_destinations(template: Template, tmp_path: Path) -> None:
    budget = Budget()

    @fuzz_settings(60)
    @given(reference_commands())
    @overwrites
    def fuzz(command: Command) -> None:
        budget.run(lambda: run_in_copy(template, tmp_path, command))

    fuzz()


def test_numbers_where_and_options(template: Template, tmp_path: Path) -> None:
    budget = Budget()

    @fuzz_settings(60)
    @given(option_commands())
    def fuzz(command: Command) -> None:
        budget.run(lambda: run_in_copy(template, tmp_path, command))

    fuzz()


def test_deployments(template: Template, tmp_path: Path) -> None:
    budget = Budget()

    @fuzz_settings(40)
    @given(deployment_commands())
    def fuzz(command: Command) -> None:
        budget.run(lambda: run_in_copy(template, tmp_path, command))

    fuzz()


def test_init_with_any_urls(template: Template, tmp_path: Path) -> None:
    """``init`` in an empty folder makes the workspace, or says why not and leaves the
    folder empty."""
    budget = Budget()

    def example(store: str | None, artifacts: str | None, options: list[str]) -> None:
        args = ["init"]
        args += ["--store-url", store] if store is not None else []
        args += ["--artifacts-url", artifacts] if artifacts is not None else []
        for pair in options:
            args += ["--artifacts-option", pair]
        command = template.fill(Command(args, told=["."]))
        folder = tmp_path / f"init-{time.monotonic_ns()}"
        folder.mkdir()
        try:
            outcome = invoke(command.args, folder, safe_env(template))
            check(command, outcome, {}, snapshot(folder))
            if outcome.code != 0:
                assert os.listdir(folder) == [], f"a failed init left files: {command.args}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @fuzz_settings(40)
    @given(
        st.one_of(st.none(), store_urls),
        st.one_of(st.none(), artifact_urls),
        st.lists(option_pairs, max_size=3),
    )
    def fuzz(store: str | None, artifacts: str | None, options: list[str]) -> None:
        budget.run(lambda: example(store, artifacts, options))

    fuzz()


def no_nul(text: str) -> bool:
    return "\x00" not in text


def test_store_and_artifacts_urls_from_the_environment(template: Template, tmp_path: Path) -> None:
    budget = Budget()
    commands = [["info"], ["verify"], ["data", "log", "d"], ["data", "checkout", "d", "new.csv"]]

    @fuzz_settings(40)
    @given(
        st.one_of(st.none(), store_urls.filter(no_nul)),  # the environment cannot hold NUL
        st.one_of(st.none(), artifact_urls.filter(no_nul)),
        st.sampled_from(commands),
    )
    def fuzz(store: str | None, artifacts: str | None, args: list[str]) -> None:
        env = {"LOOPML_STORE_URL": store} if store is not None else {}
        env |= {"LOOPML_ARTIFACTS_URL": artifacts} if artifacts is not None else {}
        told = ["new.csv"] if "checkout" in args else []
        budget.run(lambda: run_in_copy(template, tmp_path, Command(args, told, env)))

    fuzz()


def test_malformed_files(template: Template, tmp_path: Path) -> None:
    """A garbled loopml.toml, schema, CSV, Parquet or labelling notes file, given to
    the commands that read it."""
    budget = Budget()

    @st.composite
    def parquet_bytes(draw: st.DrawFn) -> bytes:
        data = bytearray(template.parquet)
        if draw(st.booleans()):
            return bytes(data[: draw(st.integers(0, len(data)))])
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)

    readers = [["info"], ["verify"], ["data", "log", "d"], ["artifacts", "list"]]
    adds = [["data", "add", "x.csv", "--name", "x"], ["data", "add", "x.csv", "--name", "d"]]
    notes = ["data", "add", "d.csv", "--name", "z", "--labelling-notes", "notes.txt"]
    files = st.one_of(
        st.tuples(st.just("loopml.toml"), toml_texts.map(str.encode), st.sampled_from(readers)),
        st.tuples(st.just("loopml.toml"), st.binary(max_size=100), st.just(["info"])),
        st.tuples(
            st.just("s.yaml"), yaml_texts(), st.just(["data", "schema", "d", "--set", "s.yaml"])
        ),
        st.tuples(st.just("x.csv"), csv_texts, st.sampled_from(adds)),
        st.tuples(
            st.just("x.parquet"),
            st.one_of(parquet_bytes(), st.binary(max_size=200)),
            st.just(["data", "add", "x.parquet", "--name", "x"]),
        ),
        st.tuples(st.just("notes.txt"), st.binary(max_size=60), st.just(notes)),
    )

    def example(name: str, content: bytes, args: list[str]) -> None:
        root = fresh_copy(template, tmp_path)
        try:
            (root / name).write_bytes(content)
            before = snapshot(root)
            outcome = invoke(args, root, safe_env(template))
            check(Command(args), outcome, before, snapshot(root))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    @fuzz_settings(60)
    @given(files)
    def fuzz(case: tuple[str, bytes, list[str]]) -> None:
        budget.run(lambda: example(*case))

    fuzz()


def test_a_sample_in_real_processes(template: Template, tmp_path: Path, cli) -> None:
    """A sample of the same command lines through the installed ``loopml``, each in a
    new process."""
    samples: list[Command] = []

    @fuzz_settings(6)
    @given(st.one_of(reference_commands(), option_commands()))
    def collect(command: Command) -> None:
        if not any("\x00" in arg for arg in command.args):  # argv cannot hold NUL
            samples.append(command)

    collect()
    cli.env = {k: v for k, v in safe_env(template).items() if v is not None} | {
        k: v for k, v in cli.env.items() if not k.startswith(("LOOPML_", "AWS_", "PG"))
    }
    for command in samples:
        command = template.fill(command)
        root = fresh_copy(template, tmp_path)
        before = snapshot(root)
        result = cli(*command.args, cwd=root, new_process=True)
        check(command, Outcome(result.code, result.out, result.err), before, snapshot(root))
        shutil.rmtree(root, ignore_errors=True)


def test_the_checks_see_what_they_must() -> None:
    """The checker itself: an overwrite, a file made elsewhere, an internal error."""
    command = Command(["data", "checkout", "d", "new.csv"], told=["new.csv"])
    ok = Outcome(0, "", "")
    kept = {"d.csv": ("f", 1)}
    check(command, ok, kept, {**kept, "new.csv": ("f", 2)})
    with pytest.raises(AssertionError, match=r"d\.csv was changed"):
        check(command, ok, kept, {"d.csv": ("f", 3)})
    with pytest.raises(AssertionError, match=r"other\.csv made"):
        check(command, ok, kept, {**kept, "other.csv": ("f", 2)})
    with pytest.raises(AssertionError, match="internal error"):
        check(command, Outcome(3, "", "internal error: boom"), kept, kept)
    with pytest.raises(AssertionError, match="not documented"):
        check(Command(["info"]), Outcome(1, "", ""), kept, kept)
    with pytest.raises(AssertionError, match="changed by a reading command"):
        check(Command(["info"]), ok, {".loopml/loopml.db": 1}, {".loopml/loopml.db": 2})
