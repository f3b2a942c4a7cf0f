"""The fork server of cli_forks.py: imports what the programs it runs would import,
then forks a process for each program it is asked to run, which becomes the program
(see cli_forks.py for what that process is and is not).

Run as a script: ``python fork_server.py SOCKET_FD MODULE...``, where SOCKET_FD is a
listening Unix socket. Each connection sends one request (its length in HEADER bytes,
then JSON: argv, cwd, env and sys.path) with the program's stdin, stdout and stderr;
the server answers with the program's pid, then its exit code (minus the signal that
ended it), a line each. It ends when the process that started it does.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import importlib
import json
import os
import select
import socket
import sys
import types
from collections.abc import Callable
from importlib.machinery import BuiltinImporter, ModuleSpec, PathFinder, SourceFileLoader
from pathlib import Path
from typing import Any

HEADER = 4  # bytes giving the length of a request


def origin(spec: ModuleSpec | None) -> str | list[str] | None:
    """Where a module is found: its file, or a namespace package's folders."""
    if spec is None:
        return None
    if spec.origin is not None:
        return spec.origin
    return sorted(spec.submodule_search_locations or [])


def _serve(listener: socket.socket, modules: list[str]) -> None:
    del sys.path[0]  # this file's folder: a program's own is put there
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
    origins = {}
    for name, module in list(sys.modules.items()):
        loaded = origin(getattr(module, "__spec__", None))
        # only what sys.path finds (not modules a package makes up as it loads)
        if (
            "." not in name
            and loaded not in (None, "built-in", "frozen")
            and origin(PathFinder.find_spec(name, sys.path)) == loaded
        ):
            origins[name] = loaded
    gc.freeze()
    told = {
        "read": {k: before.get(k) for k in sorted(read)},
        "path": sys.path,
        "origins": origins,
        "environ": before,
    }
    sys.stdout.write(json.dumps(told) + "\n")
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
            _run(connection)  # returns only in the program's own process, as it ends
            return
        connection.close()


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _run(connection: socket.socket) -> None:
    """Fork the program's process, tell its pid, wait for it and tell how it ended."""
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    size = int.from_bytes(message[:HEADER], "big")
    while len(message) < HEADER + size:
        message += connection.recv(1 << 20)
    request = json.loads(message[HEADER:])
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
    """Make this process one that Python started to run the request's program, and run
    it.

    The program's SystemExit goes up and out of the server, so that the process ends
    as Python ends one (threads joined, atexit, streams flushed); an uncaught exception
    is printed with the program's frames alone, as Python prints it, and exits 1."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        if fd > 2:
            os.close(fd)
    _standard_streams()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:] = request["path"]
    importlib.invalidate_caches()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:  # fork copies the server's state (`random` reseeds itself)
        numpy_random.seed()
    argv = request["argv"]
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=builtins, __package__=None, __spec__=None)
    main.__dict__.update(__annotations__={})
    if argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        filename, source = "<string>", argv[1]
        main.__dict__.update(__loader__=BuiltinImporter)
    else:
        sys.argv = list(argv)
        filename = os.path.abspath(argv[0])  # as Python names the main script's file
        source = Path(filename).read_bytes()
        loader = SourceFileLoader("__main__", filename)
        main.__dict__.update(__file__=filename, __cached__=None, __loader__=loader)
    sys.modules["__main__"] = main
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), main.__dict__)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
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
        buffering = -1 if buffered or fd == 0 else 0
        buffer = open(fd, mode, buffering=buffering, closefd=False)  # noqa: SIM115
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
