"""A server stand-in that logs predictions at a known rate until it is stopped.

Usage: prediction_logger.py WORKSPACE RATE FLUSH_SECONDS

Appends at most RATE records a second (ids ``r0000000``, ``r0000001``, ...) to a
started PredictionLog, printing after every tick how many it has appended. On SIGTERM
it stops appending, closes the log (as the server does) and prints ``closed N
dropped D``. It gives up by itself after 60 seconds, so a lost test cannot leave it
running.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import loopml
from loopml._time import now_us
from loopml.serve import PredictionLog, PredictionRecord

TICK_S = 0.01
LIMIT_S = 60.0


def main() -> None:
    root, rate, flush_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    per_tick = max(1, round(rate * TICK_S))
    appended = 0
    with loopml.workspace(root) as ws:
        log = PredictionLog(ws, worker="logger", flush_seconds=flush_seconds)
        log.start()
        deadline = time.monotonic() + LIMIT_S
        while not stop.is_set() and time.monotonic() < deadline:
            for _ in range(per_tick):
                log.append(
                    PredictionRecord(
                        f"r{appended:07d}",
                        None,
                        now_us(),
                        "churn",
                        "churn@v1",
                        0,
                        1.0,
                        {"x": [appended]},
                        {"predictions": [appended % 2]},
                        120,
                        None,
                    )
                )
                appended += 1
            print(appended, flush=True)
            # Never faster than the rate: a tick that ran late is not made up for.
            time.sleep(TICK_S)
        log.close()
        print(f"closed {appended} dropped {log.dropped}", flush=True)


if __name__ == "__main__":
    main()
