"""The servers' own work a request, without HTTP: loopml's ASGI app and the bare
FastAPI endpoint's, each called directly 5,000 times on one core, with the V2 or the
FastAPI body of one row, in their own venvs. Prints the CPU time a request of the
event loop's thread and of the whole process (loopml's predict thread and prediction
log included, their work read 1.5 s after the last request).

    python bench/serve/in_process.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _tools

import _servers as s
from _venvs import venvs

from _tools import ROOT, run_checked, say

COUNT = 5000

LOOPML = """
import asyncio, sys, time
from pathlib import Path
import uvloop
from loopml.workspace import workspace
from loopml.serve._server import Server, ServeOptions

scratch = Path(sys.argv[1])
body = (scratch / "bodies" / "v2-1.json").read_bytes()
scope = {"type": "http", "method": "POST", "path": "/v2/models/bc/infer",
         "headers": [(b"content-type", b"application/json"),
                     (b"content-length", str(len(body)).encode())]}

async def main():
    server = Server(workspace(scratch / "ws-one"), ServeOptions(grpc_port=None))
    await server.startup()
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    async def send(message):
        pass
    for _ in range(300):
        await server.app(scope, receive, send)
    await asyncio.sleep(1.5)
    thread, process = time.thread_time(), time.process_time()
    for _ in range(COUNT):
        await server.app(scope, receive, send)
    thread = time.thread_time() - thread
    await asyncio.sleep(1.5)
    process = time.process_time() - process
    await server.shutdown()
    loop_us, process_us = thread / COUNT * 1e6, process / COUNT * 1e6
    print(f"loopml: event loop {loop_us:.1f} us, process {process_us:.1f} us a request")

uvloop.run(main())
"""

FASTAPI = """
import os, sys, time
from pathlib import Path
import uvloop

scratch = Path(sys.argv[1])
os.environ["BENCH_MODEL"] = str(scratch / "lr.joblib")
from app_fastapi import async_app as app

body = (scratch / "bodies" / "fastapi-1.json").read_bytes()
scope = {"type": "http", "method": "POST", "path": "/predict", "raw_path": b"/predict",
         "query_string": b"", "root_path": "", "http_version": "1.1", "scheme": "http",
         "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "asgi": {"version": "3.0"},
         "headers": [(b"content-type", b"application/json"),
                     (b"content-length", str(len(body)).encode())]}

async def main():
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    async def send(message):
        pass
    for _ in range(300):
        await app(dict(scope), receive, send)
    thread, process = time.thread_time(), time.process_time()
    for _ in range(COUNT):
        await app(dict(scope), receive, send)
    thread, process = time.thread_time() - thread, time.process_time() - process
    loop_us, process_us = thread / COUNT * 1e6, process / COUNT * 1e6
    print(f"FastAPI: event loop {loop_us:.1f} us, process {process_us:.1f} us a request")

uvloop.run(main())
"""


def main() -> int:
    venvs(("loopml", "fastapi"))
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="loopml-bench-in-process-") as scratch:
        env = s._env(PYTHONPATH=str(ROOT / "src"))
        run_checked([sys.executable, str(here / "setup_models.py"), scratch], timeout=600, env=env)
        for _ in range(2):  # in turns: the machine's drift hits both
            for venv, code, path in (("loopml", LOOPML, ROOT / "src"), ("fastapi", FASTAPI, here)):
                python = str(s.VENVS / venv / "bin" / "python")
                program = code.replace("COUNT", str(COUNT))
                found = subprocess.run(
                    ["taskset", "-c", "0", python, "-c", program, scratch],
                    env=s._env(PYTHONPATH=str(path)), capture_output=True, text=True,
                    timeout=300, check=True,
                )  # fmt: skip
                say(found.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
