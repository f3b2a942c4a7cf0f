"""Memory during a hot swap: the resident memory of `loopml serve` serving one large
model, and its peak while the champion moves to another version of the same size.

    python bench/serve/swap_memory.py [--trees N] [--swaps N]

A server loads the new version while the old one answers, then switches and releases
the old one: during the load both are in memory. This measures how much that costs:
the RSS of the server process (sampled every 5 ms from /proc) at rest with the first
version, at its peak during each swap, and at rest after, next to the model's own
size in memory (the RSS of a server serving it less that of one serving a tiny model).
Timings and sizes only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import registry


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answered_by(url: str, body: bytes) -> str | None:
    request = urllib.request.Request(
        f"{url}/invocations", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["X-Loopml-Version"]
    except OSError:
        return None


def serve(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopml",
            "serve",
            "--port",
            str(port),
            "--no-grpc",
            "--poll-seconds",
            "0.2",
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_for(url: str, body: bytes, version: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while answered_by(url, body) != version:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{version} never answered")
        time.sleep(0.05)


def settled_rss(pid: int) -> float:
    time.sleep(1.0)
    return rss_mb(pid)


def main() -> None:
    given = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    given.add_argument("--trees", type=int, default=40)
    given.add_argument("--swaps", type=int, default=3)
    options = given.parse_args()

    X, y = make_classification(n_samples=40_000, n_features=20, random_state=0)
    columns = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    body = json.dumps({"dataframe_split": {"columns": columns, "data": X[:1].tolist()}}).encode()
    root = Path(tempfile.mkdtemp())
    ws = loopml.init(root)

    tiny = LogisticRegression(max_iter=200).fit(frame, y)
    registry.register(
        tiny,
        "tiny",
        signature_from=frame,
        alias="champion",
        force=True,
        reason="bench",
        workspace=ws,
    )
    loopml.deploy("tiny", model="tiny@champion", workspace=ws)
    process, url = serve(root)
    wait_for(url, body, "tiny@v1")
    base = settled_rss(process.pid)
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    loopml.serve.undeploy("tiny", reason="bench", workspace=ws)

    refs = []
    for seed in range(options.swaps + 1):
        forest = RandomForestClassifier(
            n_estimators=options.trees, random_state=seed, n_jobs=2
        ).fit(frame, y)
        version = registry.register(forest, "big", signature_from=frame, workspace=ws)
        refs.append(str(version.ref))
    registry.promote(refs[0], force=True, reason="bench", workspace=ws)
    loopml.deploy("big", model="big@champion", workspace=ws)

    process, url = serve(root)
    wait_for(url, body, refs[0])
    steady = settled_rss(process.pid)
    model = steady - base
    peaks, after, seen = [], [], []
    for ref in refs[1:]:
        registry.promote(ref, force=True, reason="bench", workspace=ws)
        moved = time.monotonic()
        peak = rss_mb(process.pid)
        deadline = time.monotonic() + 120
        while answered_by(url, body) != ref and time.monotonic() < deadline:
            for _ in range(20):
                peak = max(peak, rss_mb(process.pid))
                time.sleep(0.005)
        seen.append(time.monotonic() - moved)
        peaks.append(peak)
        after.append(settled_rss(process.pid))
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    ws.close()

    print(f"server with a tiny model: {base:.0f} MB resident")
    print(
        f"server with one forest of {options.trees} trees: {steady:.0f} MB "
        f"(the model: {model:.0f} MB)"
    )
    for index, (peak, rest, took) in enumerate(zip(peaks, after, seen, strict=True), start=1):
        print(
            f"swap {index}: the new version answered {took:.2f} s after the promotion "
            f"(polling every 0.2 s, loading included); peak {peak:.0f} MB = "
            f"{peak / steady:.2f}x the server at rest, {(peak - base) / model:.2f}x the "
            f"model; after {rest:.0f} MB"
        )
    print(
        f"worst peak: {max(peaks) / steady:.2f}x the server at rest, "
        f"{(max(peaks) - base) / model:.2f}x the model in memory"
    )


if __name__ == "__main__":
    main()
