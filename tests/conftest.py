"""Fixtures shared by the whole suite: fresh SQLite files, fresh PostgreSQL schemas and
fresh in-memory stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from cli_forks import Forks, cli_env, decoded
from local_postgres import postgres_server

# One BLAS and OpenMP thread in each test process and in every process it starts, set
# before NumPy loads: the suite runs one worker per core, where more threads only spin
# waiting for the core the other worker holds (an lbfgs fit of 30 columns took a
# hundred times longer with two OpenBLAS threads than with one). Results are the same.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/loopml.db"


@pytest.fixture
def memory_url() -> Iterator[str]:
    """An in-memory store URL of a name of its own, whose records are dropped after the test."""
    from loopml.store._memory.tables import drop

    url = f"memory://test-{uuid.uuid4().hex}"
    yield url
    drop(url)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url, how = postgres_server()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {how}")
        pytest.skip(how)
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which PostgreSQL server the PostgreSQL tests ran on, or that they were skipped."""
    outcomes: dict[str, int] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if not isinstance(report, pytest.TestReport) or "postgres" not in report.keywords:
                continue
            if report.when == "call" or report.outcome != "passed":
                outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1
    if not outcomes:
        return
    url, how = postgres_server()
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    where = f"on {how}" if url is not None else f"SKIPPED: {how}"
    terminalreporter.write_sep("-", "PostgreSQL")
    terminalreporter.write_line(f"PostgreSQL tests ({counts}) {where}")


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A store URL on a schema of its own, dropped after the test."""
    import sqlalchemy as sa

    schema = f"loopml_test_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(postgres_server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, poolclass=sa.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_server_url else "?"
    yield f"{postgres_server_url}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store_url(request: pytest.FixtureRequest) -> str:
    """A fresh store URL on each SQL backend in turn (the ones other processes can open)."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


class CLI:
    """Runs the installed ``loopml`` command, each time in a process of its own: forked
    from a server that has imported loopml already (see cli_forks.py), or started anew
    with ``new_process=True``, with ``read_only`` and where the environment holds a
    variable read as Python starts or imports."""

    def __init__(self, cwd: Path, env: dict[str, str], forks: Forks) -> None:
        self.cwd = cwd
        self.env = env
        self.forks = forks

    def __call__(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = False,
        read_only: Path | None = None,
        new_process: bool = False,
    ) -> Result:
        import subprocess
        import sys

        folder = cwd or self.cwd
        argv = [str(Path(sys.executable).with_name("loopml")), *args]
        if new_process or read_only is not None or not self.forks.takes(argv, folder, self.env):
            prefix = [] if read_only is None else read_only_prefix(read_only)
            done = subprocess.run(
                [*prefix, *argv],
                cwd=folder,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
            result = Result(done.returncode, done.stdout, done.stderr)
        else:
            code, out, err = self.forks.run(argv, folder, self.env, TIMEOUT_S)
            result = Result(code, decoded(out), decoded(err))
        if check and result.code != 0:
            raise AssertionError(f"loopml {list(args)} failed: {result}")
        return result


TIMEOUT_S = 120  # for one command


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture(scope="session")
def cli_forks() -> Iterator[Forks]:
    """The fork server of this test process's ``loopml`` commands."""
    forks = Forks(cli_env())
    yield forks
    forks.close()


@pytest.fixture
def cli(tmp_path: Path, cli_forks: Forks) -> CLI:
    """The ``loopml`` command, run in ``tmp_path`` with no LOOPML_* variables set, and
    piped with no COLUMNS (pytest-xdist sets COLUMNS=80 in its workers)."""
    return CLI(tmp_path, cli_env(), cli_forks)


def read_only_prefix(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` is read-only, even for root.

    root ignores file modes, so as root the folder is bind-mounted read-only in a
    private mount namespace of the command alone; others get the folder's mode bits
    cleared (the caller restores them).
    """
    import shutil
    import subprocess

    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("as root, a read-only folder needs unshare(1) for a read-only bind mount")
    probe = subprocess.run(
        [unshare, "--mount", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"as root, a read-only folder needs mount namespaces: {probe.stderr}")
    mount = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} {folder}"
    return [unshare, "--mount", "sh", "-c", f'{mount} && exec "$0" "$@"']
