"""A process forked by cli_forks.py is what a new process running the same script
would be: the same arguments, paths, folder, environment, standard streams, open
files, signal handlers and exit, and nothing shared between two of them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_forks import Forks, decoded
from conftest import _cli_env

PROBE = textwrap.dedent(
    """
    import atexit, json, os, signal, sys, threading, time

    def stream(s):
        return [type(s).__name__, s.encoding, s.errors, s.line_buffering, s.write_through,
                s.isatty(), s.fileno(), s.mode, getattr(s.buffer, "raw", s.buffer).name, s.newlines]

    import numpy
    state = {
        "argv": sys.argv,
        "path": sys.path,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "streams": [stream(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
        "dunder": [sys.__stdin__ is sys.stdin, sys.__stdout__ is sys.stdout],
        "fds": sorted(os.listdir("/proc/self/fd")),
        "signals": {s.name: repr(signal.getsignal(s)) for s in signal.valid_signals()
                    if isinstance(s, signal.Signals)},
        "blocked": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "groups": [os.getpgrp() == os.getpgid(os.getppid()), os.getsid(0)],
        "umask": os.umask(0o22),
        "threads": threading.active_count(),
        "main": [__name__, __file__, sys.modules["__main__"].__file__],
        "flags": list(sys.flags),
        "stdin": [os.fstat(0).st_dev, os.fstat(0).st_ino, os.fstat(0).st_mode],
    }
    print(json.dumps(state))
    print("random", numpy.random.random(), file=sys.stderr)

    def late():
        time.sleep(0.2)
        print("a thread's last words", end="")

    atexit.register(lambda: print("atexit", file=sys.stderr))
    threading.Thread(target=late).start()
    how = sys.argv[1]
    if how == "exit":
        sys.exit(3)
    if how == "message":
        sys.exit("a message to stderr")
    if how == "raise":
        raise ValueError("raised at the top")
    if how == "signal":
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGTERM)
    """
)


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    script = tmp_path / "scripts" / "probe.py"
    script.parent.mkdir()
    script.write_text(PROBE)
    return script


def new_process(script: Path, how: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, str(script), how],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def forked(
    forks: Forks, script: Path, how: str, cwd: Path, env: dict[str, str]
) -> tuple[int, str, str]:
    code, out, err = forks.run(script, [how], cwd, env, timeout=60)
    return code, decoded(out), decoded(err)


def without_random(err: str) -> tuple[str, list[str]]:
    lines = err.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("random")), [
        line for line in lines if line.startswith("random")
    ]


@pytest.mark.parametrize("how", ["return", "exit", "message", "raise", "signal"])
def test_a_forked_process_is_a_new_one(
    cli_forks: Forks, probe: Path, tmp_path: Path, how: str
) -> None:
    env = dict(_cli_env(), SOME_SETTING="x y")
    fresh = new_process(probe, how, tmp_path, env)
    fork = forked(cli_forks, probe, how, tmp_path, env)
    exit_code = {"return": 0, "exit": 3, "message": 1, "raise": 1, "signal": -signal.SIGTERM}
    assert fresh[0] == fork[0] == exit_code[how]
    assert fresh[1] == fork[1]
    assert without_random(fresh[2])[0] == without_random(fork[2])[0]
    if how == "raise":
        assert fresh[2].count('File "') == 1, fresh[2]  # the script's frame alone


def test_two_forked_processes_share_no_state(cli_forks: Forks, probe: Path, tmp_path: Path) -> None:
    randoms = {
        without_random(forked(cli_forks, probe, "return", tmp_path, _cli_env())[2])[1][0]
        for _ in range(3)
    }
    assert len(randoms) == 3


def test_an_environment_read_on_import_or_at_start_is_refused(cli_forks: Forks) -> None:
    env = _cli_env()
    assert cli_forks.takes(env)
    assert cli_forks.takes(dict(env, LOOPML_STORE_URL="sqlite:///x.db", COLUMNS="60"))
    assert not cli_forks.takes(dict(env, PYTHONPATH=os.pathsep.join(["here", *sys.path])))
    assert not cli_forks.takes(dict(env, LC_ALL="C"))
    assert cli_forks.read, "the server's imports read no variable"
    name = next(iter(cli_forks.read))
    assert not cli_forks.takes(dict(env, **{name: "something else"}))


def test_the_installed_command_answers_the_same(cli_forks: Forks, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("loopml")
    env = _cli_env()
    folder = tmp_path / "workspace"
    for args in (["--version"], ["data", "list"], ["init"], ["data", "list", "--json"]):
        answers = []
        for run in ("new", "forked"):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            if args[-1] == "--json":
                subprocess.run(
                    [str(script), "init"], cwd=folder, env=env, capture_output=True, check=True
                )
            if run == "new":
                done = subprocess.run(
                    [str(script), *args],
                    cwd=folder,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                answers.append((done.returncode, done.stdout, done.stderr))
            else:
                code, out, err = cli_forks.run(script, args, folder, env, timeout=60)
                answers.append((code, decoded(out), decoded(err)))
        assert answers[0] == answers[1]
