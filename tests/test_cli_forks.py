"""A process forked by cli_forks.py is what a new process running the same program
would be: the same arguments, paths, folder, environment, standard streams, open
files, signal handlers, main module and exit, and nothing shared between two of
them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_forks import Forks, cli_env, decoded

PROBE = textwrap.dedent(
    """
    import atexit, json, os, signal, sys, threading, time

    def stream(s):
        raw = getattr(s.buffer, "raw", s.buffer)
        return [type(s).__name__, s.encoding, s.errors, s.line_buffering, s.write_through,
                s.isatty(), s.fileno(), s.mode, raw.name, s.newlines]

    import numpy
    main = sys.modules["__main__"]
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
        "main": [__name__, main is sys.modules[__name__], sorted(vars(main)),
                 {k: repr(getattr(main, k)) for k in ("__file__", "__package__", "__spec__",
                                                      "__cached__") if hasattr(main, k)},
                 type(main.__loader__).__name__, type(__builtins__).__name__],
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
EXIT_CODES = {"return": 0, "exit": 3, "message": 1, "raise": 1, "signal": -signal.SIGTERM}


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    script = tmp_path / "scripts" / "probe.py"
    script.parent.mkdir()
    script.write_text(PROBE)
    return script


def both(
    forks: Forks, argv: list[str], cwd: Path, env: dict[str, str]
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """``python ARGV`` in a new process and in a forked one."""
    done = subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert takes(forks, argv, cwd, env)
    code, out, err = forks.run(argv, cwd, env, timeout=60)
    return (done.returncode, done.stdout, done.stderr), (code, decoded(out), decoded(err))


def takes(forks: Forks, argv: list[str], cwd: Path, env: dict[str, str]) -> bool:
    """Whether ``forks`` takes the program, once it has a server for ``env`` (this test
    process's environment may have changed since its first server started)."""
    return forks.takes(argv, cwd, env) or forks.takes(argv, cwd, env)


def assert_same(fresh: tuple[int, str, str], fork: tuple[int, str, str]) -> None:
    assert fresh[0] == fork[0]
    assert fresh[1] == fork[1]
    assert without_random(fresh[2]) == without_random(fork[2])


def without_random(err: str) -> str:
    return "".join(line for line in err.splitlines(keepends=True) if not line.startswith("random"))


@pytest.mark.parametrize("how", list(EXIT_CODES))
def test_a_forked_process_is_a_new_one(
    cli_forks: Forks, probe: Path, tmp_path: Path, how: str
) -> None:
    env = dict(cli_env(), SOME_SETTING="x y")
    fresh, fork = both(cli_forks, [str(probe), how], tmp_path, env)
    assert fresh[0] == EXIT_CODES[how]
    assert_same(fresh, fork)
    if how == "raise":
        assert fresh[2].count('File "') == 1, fresh[2]  # the script's frame alone


@pytest.mark.parametrize("how", ["return", "raise"])
def test_code_given_with_c_is_run_as_python_runs_it(
    cli_forks: Forks, tmp_path: Path, how: str
) -> None:
    fresh, fork = both(cli_forks, ["-c", PROBE, how], tmp_path, cli_env())
    assert fresh[0] == EXIT_CODES[how]
    assert_same(fresh, fork)


def test_a_script_named_from_its_folder_and_a_pythonpath_of_its_own(
    cli_forks: Forks, probe: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "beside.py").write_text("WHERE = 'shared'\n")
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, ["shared", env.get("PYTHONPATH")]))
    fresh, fork = both(cli_forks, ["scripts/probe.py", "return"], tmp_path, env)
    assert str(shared) in fresh[1]  # PYTHONPATH's entries, made absolute
    assert_same(fresh, fork)


def test_two_forked_processes_share_no_state(cli_forks: Forks, probe: Path, tmp_path: Path) -> None:
    env = cli_env()
    assert takes(cli_forks, [str(probe), "return"], tmp_path, env)
    randoms = {cli_forks.run([probe, "return"], tmp_path, env, timeout=60)[2] for _ in range(3)}
    assert len(randoms) == 3


def test_what_a_server_would_run_otherwise_is_not_forked(
    cli_forks: Forks, probe: Path, tmp_path: Path
) -> None:
    env = cli_env()
    argv = [str(probe), "return"]
    assert takes(cli_forks, argv, tmp_path, env)
    assert cli_forks.takes(argv, tmp_path, dict(env, LOOPML_STORE_URL="x", COLUMNS="60"))
    # read as Python starts, or as the server imports: not by that server (at first)
    assert not cli_forks.takes(argv, tmp_path, dict(env, LC_ALL="C"))
    assert not cli_forks.takes(argv, tmp_path, dict(env, PYTHONOPTIMIZE="1"))
    assert cli_forks.read, "the server's imports read no variable"
    name = next(iter(cli_forks.read))
    assert not cli_forks.takes(argv, tmp_path, dict(env, **{name: "something else"}))
    # a module the server imported, found elsewhere: beside the script, or on PYTHONPATH
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = os.pathsep.join(filter(None, [str(elsewhere), env.get("PYTHONPATH")]))
    assert cli_forks.takes(argv, tmp_path, dict(env, PYTHONPATH=before))
    (elsewhere / "numpy.py").write_text("")
    after = before + os.pathsep  # a new value: each is looked at once
    assert not cli_forks.takes(argv, tmp_path, dict(env, PYTHONPATH=after))
    (probe.parent / "rich").mkdir()
    (probe.parent / "rich" / "__init__.py").write_text("")
    assert not cli_forks.takes(argv, tmp_path, env)


def test_the_installed_command_answers_the_same(cli_forks: Forks, tmp_path: Path) -> None:
    script = str(Path(sys.executable).with_name("loopml"))
    env = cli_env()
    folder = tmp_path / "workspace"
    for args in (["--version"], ["data", "list"], ["init"], ["data", "list", "--json"]):
        answers = []
        for run in ("new", "forked"):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            if args[-1] == "--json":
                subprocess.run(
                    [script, "init"], cwd=folder, env=env, capture_output=True, check=True
                )
            if run == "new":
                done = subprocess.run(
                    [script, *args], cwd=folder, env=env, capture_output=True, text=True
                )
                answers.append((done.returncode, done.stdout, done.stderr))
            else:
                assert takes(cli_forks, [script, *args], folder, env)
                code, out, err = cli_forks.run([script, *args], folder, env, timeout=60)
                answers.append((code, decoded(out), decoded(err)))
        assert answers[0] == answers[1]


def test_another_start_gets_a_server_of_its_own_once_asked_again(
    probe: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in cli_env().items() if not k.startswith("LC_")}
    forks = Forks(env)
    try:
        # A C locale: Python sets LC_CTYPE (PEP 538) and UTF-8 mode as it starts.
        c_locale = dict(env, LANG="C")
        argv = [str(probe), "return"]
        assert not forks.takes(argv, tmp_path, c_locale)  # once: a new process costs less
        fresh, fork = both(forks, argv, tmp_path, c_locale)
        assert '"LC_CTYPE": "C.UTF-8"' in fresh[1]
        assert_same(fresh, fork)
    finally:
        forks.close()
