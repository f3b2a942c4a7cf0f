"""The batcher: concurrent requests answered by one call, each with its own rows."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from loopml.errors import InvalidInput
from loopml.models import Predictor, infer_signature
from loopml.serve import _batching
from loopml.serve._batching import Batcher, QueueFull
from loopml.serve._calling import VersionCall, as_columns

pd = pytest.importorskip("pandas")


class Recording(LogisticRegression):
    """A logistic regression that records the rows of each call (of ``predict``, which
    the server calls once a batch) and can be slowed down or told to fail."""

    calls: list[int]
    threads: list[str]
    delay = 0.0
    fail = False

    def predict(self, X: Any) -> Any:
        self.calls.append(len(X))
        self.threads.append(threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail:
            raise ValueError("the model broke")
        return super().predict(X)


@pytest.fixture
def model() -> tuple[Recording, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0).astype(int)
    fitted = Recording().fit(X, y)
    fitted.calls, fitted.threads = [], []
    return fitted, X


def _call(model: Recording, X: pd.DataFrame) -> VersionCall:
    call = VersionCall(Predictor(model, signature=infer_signature(X)))
    model.calls.clear()  # the probe calls made at load
    model.threads.clear()
    return call


async def _ask(batcher: Batcher, X: pd.DataFrame, probabilities: bool = False) -> Any:
    return await batcher.submit(as_columns(X.to_dict("list")), len(X), probabilities=probabilities)


def test_concurrent_requests_are_answered_together_each_with_its_own_rows(model):
    fitted, X = model
    fitted.delay = 0.02  # the first call is running while the others arrive
    batcher = Batcher(_call(fitted, X), max_rows=64, max_wait_us=0)
    requests = [X.iloc[[i]] for i in range(20)]

    async def main():
        return await asyncio.gather(*(_ask(batcher, r, probabilities=True) for r in requests))

    answers = asyncio.run(main())
    # the first alone (the thread was idle), the 19 that waited behind it in one call
    assert fitted.calls == [1, 19]
    for request, answer in zip(requests, answers, strict=True):
        assert answer.predictions.tolist() == LogisticRegression.predict(fitted, request).tolist()
        expected = LogisticRegression.predict_proba(fitted, request)
        assert np.allclose(answer.probabilities, expected)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls under 20 ms are quick: a logistic regression's are, on a loaded machine too."""
    monkeypatch.setattr(_batching, "QUICK_SECONDS", 0.02)


def test_a_quick_version_is_called_on_the_loop_with_every_request_of_the_round(model, quick):
    fitted, X = model
    batcher = Batcher(_call(fitted, X), max_rows=64)
    requests = [X.iloc[[i]] for i in range(20)]

    async def main():
        first = await _ask(batcher, requests[0])  # on the thread: a first call is timed
        rest = await asyncio.gather(*(_ask(batcher, r, probabilities=True) for r in requests))
        alone = [await _ask(batcher, r) for r in requests[:3]]
        return first, rest, alone

    first, rest, alone = asyncio.run(main())
    assert fitted.calls == [1, 20, 1, 1, 1]
    assert fitted.threads == ["loopml-predict"] + ["MainThread"] * 4
    for request, answer in zip(requests, rest, strict=True):
        assert answer.predictions.tolist() == LogisticRegression.predict(fitted, request).tolist()
        expected = LogisticRegression.predict_proba(fitted, request)
        assert np.allclose(answer.probabilities, expected)
    assert first.predictions.tolist() == alone[0].predictions.tolist()


def test_a_quick_version_leaves_a_large_request_and_a_slow_version_to_its_thread(model, quick):
    fitted, X = model
    batcher = Batcher(_call(fitted, X), max_rows=64)

    async def main():
        await _ask(batcher, X.iloc[[0]])
        await _ask(batcher, X.iloc[[1]])  # quick: on the loop
        await _ask(batcher, X.iloc[:65])  # more rows than a call on the loop takes
        fitted.delay = 0.03  # the version turns slow: after a few calls, on its thread
        for i in range(12):
            await _ask(batcher, X.iloc[[i]])

    asyncio.run(main())
    assert fitted.threads[:3] == ["loopml-predict", "MainThread", "loopml-predict"]
    assert fitted.threads[-3:] == ["loopml-predict"] * 3


def test_a_failing_quick_call_fails_its_requests_and_the_next_ones_run(model, quick):
    fitted, X = model
    batcher = Batcher(_call(fitted, X), max_rows=64)
    asyncio.run(_ask(batcher, X.iloc[[0]]))
    fitted.fail = True

    async def main():
        return await asyncio.gather(
            *(_ask(batcher, X.iloc[[i]]) for i in range(5)), return_exceptions=True
        )

    failed = asyncio.run(main())
    assert all(isinstance(f, ValueError) and "the model broke" in str(f) for f in failed)
    assert fitted.threads[-6:] == ["MainThread"] * 6  # the batch, then each request alone
    fitted.fail = False
    answer = asyncio.run(_ask(batcher, X.iloc[[0]]))
    assert answer.predictions.tolist() == LogisticRegression.predict(fitted, X.iloc[[0]]).tolist()


def test_a_batch_holds_at_most_max_rows_rows(model):
    fitted, X = model
    fitted.delay = 0.01
    batcher = Batcher(_call(fitted, X), max_rows=8, max_wait_us=0)

    async def main():
        return await asyncio.gather(*(_ask(batcher, X.iloc[[i, i + 1]]) for i in range(30)))

    answers = asyncio.run(main())
    assert [a.predictions.size for a in answers] == [2] * 30
    assert max(fitted.calls) <= 8
    assert sum(fitted.calls) == 60


def test_batching_off_calls_the_model_once_a_request_in_order(model):
    fitted, X = model
    fitted.delay = 0.005
    batcher = Batcher(_call(fitted, X), max_rows=1)

    async def main():
        return await asyncio.gather(*(_ask(batcher, X.iloc[[i]]) for i in range(10)))

    answers = asyncio.run(main())
    assert fitted.calls == [1] * 10
    expected = LogisticRegression.predict(fitted, X.iloc[:10]).tolist()
    assert [a.predictions[0] for a in answers] == expected


def test_a_failing_call_fails_every_request_of_its_batch_and_the_next_ones_run(model):
    fitted, X = model
    fitted.delay, fitted.fail = 0.01, True
    batcher = Batcher(_call(fitted, X), max_rows=64, max_wait_us=0)

    async def main():
        return await asyncio.gather(
            *(_ask(batcher, X.iloc[[i]]) for i in range(5)), return_exceptions=True
        )

    failed = asyncio.run(main())
    # the Predictor's words for a model that raised on the rows, to every request
    assert all(isinstance(f, InvalidInput) and "the model broke" in str(f) for f in failed)
    fitted.fail = False
    answer = asyncio.run(_ask(batcher, X.iloc[[0]]))
    assert answer.predictions.tolist() == LogisticRegression.predict(fitted, X.iloc[[0]]).tolist()


def test_a_bounded_batcher_drops_what_does_not_fit_at_once(model):
    fitted, X = model
    fitted.delay = 0.05
    batcher = Batcher(_call(fitted, X), max_rows=4, max_queued_rows=3)

    async def main():
        return await asyncio.gather(
            *(_ask(batcher, X.iloc[[i]]) for i in range(6)), return_exceptions=True
        )

    found = asyncio.run(main())
    # the first is sent at once; three wait; the last two find no room
    assert [isinstance(f, QueueFull) for f in found] == [False] * 4 + [True] * 2


def test_the_calling_thread_ends_when_the_batcher_is_dropped(model):
    fitted, X = model
    batcher = Batcher(_call(fitted, X))
    asyncio.run(_ask(batcher, X.iloc[[0]]))
    # this batcher's thread: the one reading its queue (other tests' servers in this
    # process may start calling threads of their own meanwhile)
    work = batcher._work
    mine = [t for t in threading.enumerate() if getattr(t, "_args", None) == (work,)]
    assert len(mine) == 1
    del work
    del batcher
    gc.collect()
    mine[0].join(timeout=5)
    assert not mine[0].is_alive()
