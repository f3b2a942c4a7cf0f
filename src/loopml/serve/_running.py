"""A server running in a thread of this process on 127.0.0.1, for tests and notebooks.

>>> import tempfile, loopml
>>> from loopml.serve import Running, ServeOptions, Server
>>> ws = loopml.init(tempfile.mkdtemp())
>>> with Running(Server(ws, ServeOptions(port=0, grpc_port=None))) as server:
...     server.url.startswith("http://127.0.0.1:")
True
>>> ws.close()
"""

from __future__ import annotations

import socket
import threading

from loopml.serve._server import Server


class Running:
    """A server running in a thread of this process on 127.0.0.1, for tests and
    notebooks: ``url`` and ``grpc_target`` to reach it, :meth:`stop` to end it (which
    flushes its log as SIGTERM does)."""

    def __init__(self, server: Server) -> None:
        import uvicorn

        self.server = server
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((server.options.host, server.options.port))
        self.port = self._sock.getsockname()[1]
        self._uvicorn = uvicorn.Server(server.uvicorn_config())
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout: float = 60) -> Running:
        """Start serving (once; a second call only waits for the first)."""
        if not self._thread.is_alive() and not self._uvicorn.started:
            self._thread.start()
        waited = 0.0
        while not self._uvicorn.started:
            if not self._thread.is_alive() or waited > timeout:
                raise RuntimeError("the server did not start; see its log")
            threading.Event().wait(0.02)
            waited += 0.02
        return self

    @property
    def url(self) -> str:
        return f"http://{self.server.options.host}:{self.port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.server.options.host}:{self.server.grpc_port}"

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(timeout=60)
        self._sock.close()

    def __enter__(self) -> Running:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
