"""The PostgreSQL tests run on the local server when LOOPML_TEST_POSTGRES_URL is unset,
and the summary of the run says which server they used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_postgres import LOCAL_POSTGRES_URL, POSTGRES_ENV

TESTS = Path(__file__).parent
ONE_POSTGRES_TEST = "store/test_contract.py::TestPostgreSQL::test_info_counts_records"


def local_server_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(LOCAL_POSTGRES_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def pytest_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
        cwd=TESTS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_the_variable_the_local_server_is_used_and_named() -> None:
    if not local_server_answers():
        pytest.skip(f"no PostgreSQL server answers at {LOCAL_POSTGRES_URL}")
    env = {k: v for k, v in os.environ.items() if k not in (POSTGRES_ENV, "CI")}
    done = pytest_run(str(TESTS / ONE_POSTGRES_TEST), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
    assert (
        f"PostgreSQL tests (1 passed) on {LOCAL_POSTGRES_URL}, the local server "
        f"({POSTGRES_ENV} unset)" in done.stdout
    ), done.stdout


def test_the_variable_names_another_server_and_the_summary_says_so() -> None:
    env = {**os.environ, POSTGRES_ENV: "postgresql://someone@127.0.0.1:1/nowhere"}
    env.pop("CI", None)
    done = pytest_run(str(TESTS / ONE_POSTGRES_TEST), env=env)
    assert done.returncode != 0  # that server does not answer: an error, not a skip
    assert "skipped" not in done.stdout.splitlines()[-1], done.stdout
    assert (
        f"PostgreSQL tests (1 failed) on postgresql://someone@127.0.0.1:1/nowhere, "
        f"from {POSTGRES_ENV}" in done.stdout
    ), done.stdout
