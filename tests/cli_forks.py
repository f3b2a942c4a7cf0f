"""The ``loopml`` command in processes forked from one that has imported it already.

Most of a short command's process is Python starting and importing the CLI,
SQLAlchemy, Rich and NumPy. A :class:`Forks` server, one per test process, imports
them once; for each command it forks a process that takes the command's arguments,
folder, environment variables and standard streams, runs the installed ``loopml``
script as Python runs a script, and ends as that script ends (its exit code, or the
signal that killed it). Every command is still a process of its own, with nothing
left from the one before it.

What such a process cannot have anew is what was read as Python started or as the
server imported: the server lists the environment variables its imports read, and
:meth:`Forks.takes` refuses an environment that differs from the server's on one of
them or on one read before any Python runs (``PYTHON*``, the locale, the thread
counts of native libraries). Those commands, and those that need a process started
from nothing, run in a new process instead (``conftest.CLI``). Two more differences,
neither visible to a command: the objects the server imported are frozen for the
cycle collector (``gc.freeze``: a child's collections then leave the server's memory
shared), and every process forked from one server has the same string hashing seed.
``tests/test_cli_forks.py`` compares a forked process with a new one.

Run as a script, this module is the server: ``python cli_forks.py SOCKET_FD
MODULE...``, where SOCKET_FD is a listening Unix socket.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import locale
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
# C library's locale, by native libraries as they load.
READ_AT_START = ("PYTHON", "LC_", "LANG", "OMP_", "OPENBLAS_", "MKL_", "_RJEM_", "POLARS_")

_HEADER = 4  # bytes giving the length of a request


class Forks:
    """A server of forked processes, started with ``env`` as its environment."""

    def __init__(self, env: dict[str, str], preloaded: tuple[str, ...] = PRELOADED) -> None:
        self.env = dict(env)
        self._folder = tempfile.mkdtemp(prefix="loopml-forks-")
        self._address = os.path.join(self._folder, "socket")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self._address)
        listener.listen(16)
        self._server = subprocess.Popen(
            [sys.executable, __file__, str(listener.fileno()), *preloaded],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            pass_fds=[listener.fileno()],
        )
        listener.close()
        assert self._server.stdout is not None
        ready = self._server.stdout.readline()
        if not ready:
            raise RuntimeError(f"the fork server ended: exit {self._server.wait()}")
        # The variables the server's imports read, with the value each had (None: unset).
        self.read: dict[str, str | None] = json.loads(ready)

    def takes(self, env: dict[str, str]) -> bool:
        """Whether a process forked from the server runs as one started with ``env``."""
        changed = {k for k in env.keys() | self.env.keys() if env.get(k) != self.env.get(k)}
        return not any(k.startswith(READ_AT_START) or k in self.read for k in changed)

    def run(
        self, script: Path, args: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> tuple[int, bytes, bytes]:
        """Run ``script ARGS`` in ``cwd`` with ``env`` and this process's stdin: its exit
        code (minus the signal that killed it) and what it wrote to stdout and stderr,
        as ``subprocess.run`` gives them; TimeoutExpired after killing it."""
        request = json.dumps(
            {"script": str(script), "args": args, "cwd": str(cwd), "env": env}
        ).encode()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(self._address)
                message = len(request).to_bytes(_HEADER, "big") + request
                socket.send_fds(connection, [message], [0, out_w, err_w])
            finally:
                os.close(out_w)
                os.close(err_w)
            deadline = time.monotonic() + timeout
            try:
                pid = int(_line(connection, deadline))
                try:
                    out, err = _read_all([out_r, err_r], deadline)
                    status = int(_line(connection, deadline))
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    raise
            except TimeoutError:
                raise subprocess.TimeoutExpired([str(script), *args], timeout) from None
            finally:
                for fd in (out_r, err_r):
                    with contextlib.suppress(OSError):
                        os.close(fd)
        return status, out, err

    def close(self) -> None:
        self._server.terminate()
        self._server.wait(timeout=30)
        with contextlib.suppress(OSError):
            os.unlink(self._address)
            os.rmdir(self._folder)


def decoded(data: bytes) -> str:
    """``data`` as ``subprocess.run(..., text=True)`` decodes what a process wrote."""
    encoding = "utf-8" if sys.flags.utf8_mode else locale.getencoding()
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


def _line(connection: socket.socket, deadline: float) -> str:
    found = b""
    while not found.endswith(b"\n"):
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = connection.recv(64)  # TimeoutError when the deadline passes
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


# -- the server ---------------------------------------------------------------------------


def _serve(listener: socket.socket, modules: list[str]) -> None:
    before = dict(os.environ)
    read = _reading_environment(lambda: [importlib.import_module(m) for m in modules])
    if dict(os.environ) != before:
        raise RuntimeError("importing the preloaded modules changed the environment")
    if os.path.isdir("/proc/self/task"):  # what a fork would share or lose: Linux tells
        threads = os.listdir("/proc/self/task")
        if len(threads) != 1:
            raise RuntimeError(f"the preloaded modules started {len(threads) - 1} threads")
        files = {int(fd) for fd in os.listdir("/proc/self/fd")} - {0, 1, 2, listener.fileno()}
        if len(files) > 1:  # the one listdir reads /proc/self/fd with
            raise RuntimeError("the preloaded modules left files open")
    gc.freeze()
    sys.stdout.write(json.dumps({k: before.get(k) for k in sorted(read)}) + "\n")
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    parent = os.getppid()
    while True:
        if not select.select([listener], [], [], 1.0)[0]:
            if os.getppid() != parent:  # the test process is gone
                return
            continue
        connection, _ = listener.accept()
        _reap()
        if os.fork() == 0:
            listener.close()
            _run(connection)  # returns only in the command's own process, as it ends
            return
        connection.close()


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _run(connection: socket.socket) -> None:
    """Fork the command's process, tell its pid, wait for it and tell how it ended."""
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    size = int.from_bytes(message[:_HEADER], "big")
    while len(message) < _HEADER + size:
        message += connection.recv(1 << 20)
    request = json.loads(message[_HEADER:])
    pid = os.fork()
    if pid == 0:
        connection.close()
        _become(request, fds)
        return
    for fd in fds:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    os._exit(0)


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """Make this process one that Python started to run ``script ARGS``, and run it.

    The script's SystemExit goes up and out of the server, so that the process ends as
    Python ends one (threads joined, atexit, streams flushed); an uncaught exception is
    printed with the script's frames alone, as Python prints it, and exits 1."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    _standard_streams()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    script = request["script"]
    sys.path[0] = os.path.dirname(script)
    sys.argv = [script, *request["args"]]
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:  # fork copies the server's state (`random` reseeds itself)
        numpy_random.seed()
    import runpy

    try:
        runpy.run_path(script, run_name="__main__")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        sys.excepthook(type(error), error.with_traceback(tb), tb)
        sys.exit(1)


def _standard_streams() -> None:
    """sys.stdin, stdout and stderr made anew on fds 0, 1 and 2 as Python makes them as
    it starts, with the encoding, error handler and buffering (none with ``-u`` or
    PYTHONUNBUFFERED) it chose for the server's."""
    import io

    buffered = not sys.stdout.write_through
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        old = getattr(sys, name)
        mode = "rb" if fd == 0 else "wb"
        buffer = open(fd, mode, buffering=-1 if buffered or fd == 0 else 0, closefd=False)  # noqa: SIM115
        raw = buffer.raw if hasattr(buffer, "raw") else buffer
        raw.name = f"<{name}>"
        stream = io.TextIOWrapper(
            buffer,
            encoding=old.encoding,
            errors=old.errors,
            newline="\n",
            line_buffering=buffered and (fd == 2 or os.isatty(fd)),
            write_through=not buffered,
        )
        stream.mode = mode[0]
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _reading_environment(imports: Callable[[], object]) -> set[str]:
    """The names of the variables read from ``os.environ`` while ``imports`` runs
    (``os.getenv``, ``.get``, ``in`` and ``[]`` all go through ``__getitem__``)."""
    read: set[str] = set()
    environ = type(os.environ)
    original = environ.__getitem__

    def getitem(self: Any, key: str) -> str:
        read.add(key)
        return original(self, key)

    environ.__getitem__ = getitem  # type: ignore[method-assign]
    try:
        imports()
    finally:
        environ.__getitem__ = original  # type: ignore[method-assign]
    return read


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2:])
