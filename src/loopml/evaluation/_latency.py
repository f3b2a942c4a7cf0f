"""What the model costs to serve: prediction latency and size.

Latency is of the loaded object's ``predict`` (its Predictor's ``call``, on rows in the
form it takes), as a server calls it: up to 200 calls of
one row each and up to 20 calls of 1,000 rows each (rows drawn with a fixed seed, with
replacement, so small data still makes full batches), after one untimed call of each
kind (the first call pays for lazy set-up). Each kind stops early once it has taken
half a second and made 5 calls, so a slow model is measured in seconds too (a model
that needs 10 s a row is known to be too slow after a few calls); the number of calls
made is recorded with the figures. Building the input frame is not timed. Reported in
milliseconds: ``row_p50``, ``row_p99``, ``batch_1000_p50``, ``batch_1000_p99``. The
numbers are of this machine, under its current load.

Size: ``disk`` is the stored artifact's bytes for a registered model, else the bytes
its flavor would store (what ``save_model`` writes); ``memory`` is the size of the
model pickled, a stand-in for its footprint that counts its arrays and tables but not
the interpreter's overhead per object. Either is left out when it cannot be had (a
model no flavor takes, or one that cannot be pickled).
"""

from __future__ import annotations

import pickle
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import LoopmlError

if TYPE_CHECKING:
    import polars as pl

    from loopml.models import Predictor
    from loopml.store import Artifact

ROW_CALLS = 200
BATCH_ROWS = 1_000
BATCHES = 20
SEED = 11
BUDGET_S = 0.5  # per kind of call, once MIN_CALLS are made
MIN_CALLS = 5


def latency(
    model: Any, frame: pl.DataFrame, form: str, *, budget_s: float = BUDGET_S
) -> tuple[dict[str, float], dict[str, Any]]:
    """The figures, and how they were measured (the input form and the calls made);
    each kind of call stops once it has made ``MIN_CALLS`` and taken ``budget_s``.
    ``model`` is a Predictor, or a model object to call through one."""
    from loopml.models import Predictor

    predictor = model if isinstance(model, Predictor) else Predictor(model)
    rng = np.random.default_rng(SEED)
    singles = [
        predictor.as_input(frame[int(i) : int(i) + 1], form)
        for i in rng.integers(0, frame.height, ROW_CALLS)
    ]
    batches = [
        predictor.as_input(frame[rng.integers(0, frame.height, BATCH_ROWS)], form)
        for _ in range(BATCHES)
    ]
    predictor.call(singles[0])
    row = _timed(predictor, singles, budget_s)
    predictor.call(batches[0])
    batch = _timed(predictor, batches, budget_s)
    figures = {
        "row_p50": float(np.percentile(row, 50)),
        "row_p99": float(np.percentile(row, 99)),
        "batch_1000_p50": float(np.percentile(batch, 50)),
        "batch_1000_p99": float(np.percentile(batch, 99)),
    }
    how = {"input": form, "row_calls": len(row), "batches": len(batch), "budget_s": budget_s}
    return figures, how


def _timed(model: Predictor, inputs: list[Any], budget_s: float) -> list[float]:
    took: list[float] = []
    spent = 0
    for X in inputs:
        if len(took) >= MIN_CALLS and spent >= budget_s * 1e9:
            break
        started = time.perf_counter_ns()
        model.call(X)
        elapsed = time.perf_counter_ns() - started
        took.append(elapsed / 1e6)
        spent += elapsed
    return took


def sizes(model: Any, artifact: Artifact | None) -> tuple[dict[str, float], dict[str, str]]:
    """``({"disk": bytes, "memory": bytes}, {each: what was measured})``."""
    found: dict[str, float] = {}
    how: dict[str, str] = {}
    if artifact is not None:
        found["disk"], how["disk"] = float(artifact.size), f"the stored bytes of {artifact.ref}"
    else:
        from loopml.models._flavors import encode

        try:
            data, meta = encode(model)
        except LoopmlError:
            pass
        else:
            found["disk"] = float(len(data))
            how["disk"] = f"the bytes the {meta['flavor']} flavor would store"
    try:
        found["memory"] = float(len(pickle.dumps(model, protocol=5)))
        how["memory"] = "the model pickled (protocol 5)"
    except Exception:  # not every model pickles (a lambda inside, an open handle...)
        pass
    return found, how
