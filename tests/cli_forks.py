"""Python programs (the ``loopml`` command first) in processes forked from one that has
imported loopml already.

Most of a short command's process is Python starting and importing the CLI,
SQLAlchemy, Rich and NumPy. A :class:`Forks` server, one per test process, imports
them once; for each program it forks a process that takes the program's arguments,
folder, environment variables and standard streams, runs the script (or ``-c`` code)
as Python runs one, and ends as it ends (its exit code, or the signal that killed
it). Every program is still a process of its own, with nothing left from the one
before it: the server runs none of the tests' code.

What such a process cannot have anew is what was read as Python started or as the
server imported: the server lists the environment variables its imports read, and a
program whose environment differs on one of them or on one read before any Python
runs (``PYTHON*``, the locale, the thread counts of native libraries) gets a server of
its own, started with it, once a second program asks for it (the first runs in a new
process). A changed PYTHONPATH is taken: ``sys.path`` is then the one Python makes
from it (asked of a new ``python``, once per value). :meth:`Forks.takes` refuses a
script folder or a PYTHONPATH where a module the server imported would be found
elsewhere; those programs, and those that need a process started from nothing, run in
a new process instead (``conftest.CLI``). Two more differences, neither visible to a
program: the objects the server imported are frozen for the cycle collector
(``gc.freeze``: a child's collections then leave the server's memory shared), and
every process forked from one server has the same string hashing seed.
``tests/test_cli_forks.py`` compares forked processes with new ones.

The server is fork_server.py.
"""

from __future__ import annotations

import contextlib
import json
import locale
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

import fork_server
from fork_server import HEADER, origin

# What most commands of the suite import, imported once by the server.
PRELOADED = (
    "loopml.cli._app",
    "loopml.store._sql.opener",
    "sqlalchemy.dialects.sqlite",
    "rich.console",
    "rich.table",
    "rich.status",
    "numpy",
    "loopml.data._versions",
    "loopml.tracking",
    "alembic.command",  # a new workspace's migrations
    "alembic.runtime.migration",
)

# Read before any import of the server could see them: by Python as it starts, by the
# C library's locale, by native libraries as they load. PYTHONPATH is taken apart.
READ_AT_START = ("PYTHON", "LC_", "LANG", "OMP_", "OPENBLAS_", "MKL_", "_RJEM_", "POLARS_")

MAX_SERVERS = 3  # per test process

# Run by a new `python` with a program's PYTHONPATH, in its folder: the sys.path it has.
_SYS_PATH = "import json, sys; print(json.dumps(sys.path[1:]))"


class Forks:
    """Servers of forked processes: the first started with ``env``, another for each
    other value of the variables read as Python starts or as the servers import,
    once two programs have asked for it."""

    def __init__(self, env: dict[str, str], preloaded: tuple[str, ...] = PRELOADED) -> None:
        self.env = dict(env)
        self._preloaded = preloaded
        first = _Server(self.env, preloaded)
        # The variables the servers' imports read, with the value each had (None: unset).
        self.read: dict[str, str | None] = first.read
        self._path = first.path  # a server's sys.path, its folder left out
        self._origins = first.origins  # where it found its top-level modules
        self._servers = {tuple(map(tuple, self._key(self.env))): first}
        self._asked: dict[tuple[tuple[str, ...], ...], int] = {}
        self._paths: dict[tuple[str | None, str], list[str] | None] = {}

    def takes(self, argv: Sequence[str | Path], cwd: Path, env: dict[str, str]) -> bool:
        """Whether a process forked from a server runs ``python ARGV`` as a new one
        started with ``env`` in ``cwd`` would (starting a server for ``env`` if it is
        the second program to need one)."""
        return self._server(env, start=True) is not None and (
            self._sys_path(argv, cwd, env) is not None
        )

    def run(
        self, argv: Sequence[str | Path], cwd: Path, env: dict[str, str], timeout: float
    ) -> tuple[int, bytes, bytes]:
        """Run ``python ARGV`` (a script and its arguments, or ``-c CODE`` and its) in
        ``cwd`` with ``env`` and this process's stdin: its exit code (minus the signal
        that killed it) and what it wrote to stdout and stderr, as ``subprocess.run``
        gives them; TimeoutExpired after killing it."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        deadline = time.monotonic() + timeout
        try:
            with self._started(argv, cwd, env, (0, out_w, err_w), deadline) as (pid, told):
                os.close(out_w)
                os.close(err_w)
                out_w = err_w = -1
                try:
                    out, err = _read_all([out_r, err_r], deadline)
                    status = told()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired([str(a) for a in argv], timeout) from None
        finally:
            for fd in (out_r, err_r, out_w, err_w):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        return status, out, err

    def python(
        self, argv: Sequence[str | Path], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run([sys.executable, *ARGV], capture_output=True, text=True)``:
        in a forked process where it runs as a new one, else in a new one."""
        if not self.takes(argv, cwd, env):
            return subprocess.run(
                [sys.executable, *map(str, argv)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        code, out, err = self.run(argv, cwd, env, timeout)
        return subprocess.CompletedProcess(list(argv), code, decoded(out), decoded(err))

    def call(self, argv: Sequence[str | Path], cwd: Path, env: dict[str, str]) -> int:
        """Run ``python ARGV`` on this process's own stdin, stdout and stderr; its exit
        code (minus the signal that killed it)."""
        with self._started(argv, cwd, env, (0, 1, 2), None) as (_, told):
            return told()

    def close(self) -> None:
        for server in self._servers.values():
            server.close()

    @contextlib.contextmanager
    def _started(
        self,
        argv: Sequence[str | Path],
        cwd: Path,
        env: dict[str, str],
        fds: tuple[int, int, int],
        deadline: float | None,
    ) -> Iterator[tuple[int, Callable[[], int]]]:
        server = self._server(env, start=False)
        path = self._sys_path(argv, cwd, env)
        if server is None or path is None:
            raise ValueError(f"a forked process cannot run {argv} as a new one would")
        if not cwd.is_dir():  # as subprocess.run says it
            raise FileNotFoundError(f"no folder {cwd}")
        request = {
            "argv": [str(a) for a in argv],
            "cwd": str(cwd),
            "env": server.as_started(env),
            "path": path,
        }
        data = json.dumps(request).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(server.address)
            socket.send_fds(connection, [len(data).to_bytes(HEADER, "big") + data], fds)
            pid = int(_line(connection, deadline))
            yield pid, lambda: int(_line(connection, deadline))

    def command(self, script: Path, env: dict[str, str], folder: Path) -> Path | None:
        """An executable in ``folder``, named as ``script``, that runs it in a process
        forked from a server, for the programs that start it by name (a shell's): with
        ``env`` but for the variables ``SHIM_VARIABLES`` names and ``folder`` first on
        PATH, which it takes out. Where a forked process would not be the one a new
        process is (another PYTHONPATH, say) it runs ``script`` itself. None where no
        forked process can run it."""
        path = self._sys_path([script], Path.cwd(), env)
        server = self._server(env, start=True) or self._server(env, start=True)
        if path is None or server is None:
            return None
        config = folder / f".{script.name}.json"
        config.write_text(
            json.dumps(
                {
                    "script": str(script),
                    "address": server.address,
                    "path": path,
                    "read": sorted(self.read),
                    "key": self._key(env),
                    "pythonpath": env.get("PYTHONPATH"),
                    "set": server.set,
                    "unset": sorted(server.unset),
                }
            )
        )
        shim = folder / script.name
        shim.write_text(
            f"#!{sys.executable} -S\n"
            "import sys\n"
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
            "from cli_forks import forward\n"
            f"forward({str(config)!r})\n"
        )
        shim.chmod(0o755)
        return shim

    def _key(self, env: dict[str, str]) -> list[list[str]]:
        return _key(env, self.read)

    def _server(self, env: dict[str, str], *, start: bool) -> _Server | None:
        key = tuple(map(tuple, self._key(env)))
        if key not in self._servers and start:
            # A test process's environment can change for good (a library sets a
            # variable as it loads): a server for the new one, once it is asked again.
            self._asked[key] = self._asked.get(key, 0) + 1
            if self._asked[key] >= 2 and len(self._servers) < MAX_SERVERS:
                given = {k: v for k, v in env.items() if k != "PYTHONPATH"}
                if "PYTHONPATH" in self.env:
                    given["PYTHONPATH"] = self.env["PYTHONPATH"]
                server = _Server(given, self._preloaded)
                if (server.path, server.origins) != (self._path, self._origins):
                    server.close()
                    raise RuntimeError("a fork server found its modules elsewhere")
                self._servers[key] = server
        return self._servers.get(key)

    def _sys_path(
        self, argv: Sequence[str | Path], cwd: Path, env: dict[str, str]
    ) -> list[str] | None:
        """The sys.path a new process would run ``python ARGV`` with, or None when one
        forked from a server would not be that process."""
        first = "" if str(argv[0]) == "-c" else os.path.dirname(os.path.realpath(cwd / argv[0]))
        if env.get("PYTHONPATH") == self.env.get("PYTHONPATH"):
            rest: list[str] | None = self._path
        else:
            key = (env.get("PYTHONPATH"), str(cwd))
            if key not in self._paths:
                self._paths[key] = self._probed_path(cwd, env)
            rest = self._paths[key]
        if rest is None or self._shadows(os.path.abspath(cwd) if first == "" else first):
            return None
        return [first, *rest]

    def _probed_path(self, cwd: Path, env: dict[str, str]) -> list[str] | None:
        """The sys.path after the first entry that Python makes from ``env`` in
        ``cwd``, or None if a module the servers imported is found elsewhere on it."""
        done = subprocess.run(
            [sys.executable, "-c", _SYS_PATH],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        rest: list[str] = json.loads(done.stdout)
        moved = [n for n, o in self._origins.items() if origin(PathFinder.find_spec(n, rest)) != o]
        return None if moved else rest

    def _shadows(self, folder: str) -> bool:
        """Whether ``folder``, first on sys.path, holds a module the servers imported."""
        return any(PathFinder.find_spec(name, [folder]) for name in self._origins)


class _Server:
    """One fork server, started with ``env``."""

    def __init__(self, env: dict[str, str], preloaded: tuple[str, ...]) -> None:
        self._folder = tempfile.mkdtemp(prefix="loopml-forks-")
        self.address = os.path.join(self._folder, "socket")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.address)
        listener.listen(16)
        self._process = subprocess.Popen(
            [sys.executable, fork_server.__file__, str(listener.fileno()), *preloaded],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            pass_fds=[listener.fileno()],
        )
        listener.close()
        assert self._process.stdout is not None
        ready = self._process.stdout.readline()
        if not ready:
            raise RuntimeError(f"the fork server ended: exit {self._process.wait()}")
        told = json.loads(ready)
        self.read: dict[str, str | None] = told["read"]
        self.path: list[str] = told["path"]
        self.origins: dict[str, Any] = told["origins"]
        # What Python changed in its environment as it started (PEP 538 sets LC_CTYPE
        # in a C locale), as it does in every process started like the server.
        started: dict[str, str] = told["environ"]
        self.set = {k: v for k, v in started.items() if env.get(k) != v}
        self.unset = set(env) - set(started)

    def as_started(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` as a process started with it has it once Python has started."""
        return _as_started(env, self.set, self.unset)

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)
        with contextlib.suppress(OSError):
            os.unlink(self.address)
            os.rmdir(self._folder)


# The variables a shim (Forks.command) takes out of its environment: the one that
# tells the docs' runner where to find it.
SHIM_VARIABLES = ("DOC_BLOCKS_BIN",)


def forward(config_file: str) -> None:
    """The body of a shim (:meth:`Forks.command`): run the script with this process's
    arguments, folder, environment and standard streams in a forked process, and end
    as it ended; or become the script where that would not be the same."""
    config = json.loads(Path(config_file).read_text())
    env = {k: v for k, v in os.environ.items() if k not in SHIM_VARIABLES}
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    entries = env.get("PATH", "").split(os.pathsep)
    if entries[:1] == [here]:
        env["PATH"] = os.pathsep.join(entries[1:])
    argv = [config["script"], *sys.argv[1:]]
    if _key(env, config["read"]) != config["key"] or env.get("PYTHONPATH") != config["pythonpath"]:
        os.execve(sys.executable, [sys.executable, *argv], env)
    request = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": _as_started(env, config["set"], set(config["unset"])),
        "path": config["path"],
    }
    data = json.dumps(request).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(config["address"])
        socket.send_fds(connection, [len(data).to_bytes(HEADER, "big") + data], [0, 1, 2])
        _line(connection, None)  # its pid
        code = int(_line(connection, None))
    if code < 0:  # ended by a signal: end by it too, for the shell to see
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def _key(env: dict[str, str], read: Iterable[str]) -> list[list[str]]:
    """The values a process reads of ``env`` as it starts and as it imports what the
    servers import (PYTHONPATH aside: each program's sys.path is set anew)."""
    read = set(read)
    return sorted(
        [k, v]
        for k, v in env.items()
        if k != "PYTHONPATH" and (k.startswith(READ_AT_START) or k in read)
    )


def _as_started(env: dict[str, str], set_: dict[str, str], unset: set[str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in unset} | set_


def cli_env() -> dict[str, str]:
    """This process's environment with no LOOPML_* variables, and no COLUMNS or LINES
    (pytest-xdist sets COLUMNS=80 in its workers): the ``loopml`` command's."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LOOPML_") and k not in ("COLUMNS", "LINES")
    }


def decoded(data: bytes) -> str:
    """``data`` as ``subprocess.run(..., text=True)`` decodes what a process wrote."""
    encoding = "utf-8" if sys.flags.utf8_mode else locale.getencoding()
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


def _line(connection: socket.socket, deadline: float | None) -> str:
    found = b""
    while not found.endswith(b"\n"):
        if deadline is not None:  # TimeoutError from recv once it passes
            connection.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = connection.recv(64)
        if not chunk:
            raise RuntimeError("the fork server closed the connection")
        found += chunk
    return found.decode()


def _read_all(fds: list[int], deadline: float) -> tuple[bytes, ...]:
    """Everything written to each pipe until it is closed."""
    got: dict[int, list[bytes]] = {fd: [] for fd in fds}
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    got[key.fd].append(chunk)
                else:
                    selector.unregister(key.fd)
    return tuple(b"".join(got[fd]) for fd in fds)
