"""The request path: one prediction from a deployment, whatever protocol asked for it.

For a request to a deployment the :class:`Engine` picks the version that answers (the
policy's router, or the version the request names), checks the rows against that
version's signature (a mismatch is the caller's error: InvalidInput, never a fallback),
waits for its batch, and, when the version raises or exceeds the policy's time budget,
answers with the deployment's fallback version instead, marked as such. A copy of the
request goes to each shadow version, whose answer is logged and never returned, on a
queue of its own that drops (and counts) what it has no room for: a shadow can neither
slow nor fail the primary. Every answer, shadows' included, is appended to the
prediction log, which writes in the background.

Nothing here reads the metadata store: the deployments served are the :class:`Live`
map the watcher installs (see :mod:`loopml.serve._live`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml._ids import new_id
from loopml.errors import InvalidInput, ModelFailed, NotFound
from loopml.models._missing import RefusedValues
from loopml.serve._batching import QueueFull
from loopml.serve._calling import Columns, count
from loopml.serve._known import Known, KnownPredictions, kept_values
from loopml.serve._live import Failure, Live, Served
from loopml.serve._log import PredictionRecord
from loopml.serve._shapes import PROBABILITIES

if TYPE_CHECKING:
    from loopml.models import Prediction
    from loopml.serve._log import PredictionLog
    from loopml.serve._metrics import Metrics

log = logging.getLogger("loopml.serve")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a deployment answered to one request."""

    prediction: Prediction
    served: Served  # the version that answered
    prediction_id: str
    request_id: str | None
    fallback: bool = False
    arm: int | None = None

    @property
    def ref(self) -> str:
        return self.served.ref

    @property
    def version(self) -> int:
        return self.served.number


class Engine:
    """Answers requests from the deployments installed; see the module docstring."""

    def __init__(self, *, metrics: Metrics, log: PredictionLog | None = None) -> None:
        self.metrics = metrics
        self.log = log
        self._live: Mapping[str, Live] = {}
        self.failures: Mapping[str, Failure] = {}
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        # the recent answers, for the feedback on them (see loopml.serve._known)
        self.recent = KnownPredictions()
        self.ready = False

    # -- what is served ------------------------------------------------------------------

    def install(self, live: Mapping[str, Live], failures: Mapping[str, Failure]) -> None:
        """Serve ``live`` from now on (the watcher calls this; one assignment). Ready
        when every deployment is served (one whose new version failed to load keeps
        the one it served; one that never loaded makes the server not ready, as
        Triton's strict readiness)."""
        self._live = live
        self.failures = failures
        self.ready = all(name in live for name in failures)
        self.metrics.swapped()

    @property
    def deployments(self) -> Mapping[str, Live]:
        return self._live

    def deployment(self, name: str) -> Live:
        """The deployment ``name`` as served now; NotFound (a 404) naming those served."""
        found = self._live.get(name)
        if found is not None:
            return found
        failed = self.failures.get(name)
        if failed is not None:
            raise NotFound(f"deployment {name!r} is not being served: {failed.message}")
        served = ", ".join(sorted(self._live)) or "none"
        raise NotFound(
            f"no deployment is called {name!r}; served here: {served} (`loopml deploy "
            f"{name} --model MODEL@ALIAS` creates it)",
            field="model_name",
        )

    def served(self, name: str, version: int | None = None) -> Served:
        """The version of ``name`` numbered ``version``, else its first arm."""
        live = self.deployment(name)
        if version is None:
            return live.arms[0]
        found = live.by_version(version)
        if found is None:
            numbers = ", ".join(str(s.number) for s in live.versions)
            raise NotFound(
                f"deployment {name!r} serves no version {version}; it serves {numbers}",
                field="model_version",
            )
        return found

    def queues(self) -> list[tuple[str, str, int]]:
        """The rows waiting, per deployment and version (for /metrics)."""
        return [
            (name, served.ref, served.batcher.queued_rows)
            for name, live in self._live.items()
            for served in live.versions
        ]

    # -- answering -----------------------------------------------------------------------

    async def infer(
        self,
        name: str,
        columns: Columns,
        *,
        version: int | None = None,
        key: str | None = None,
        request_id: str | None = None,
        outputs: Sequence[str] | None = None,
    ) -> Answer:
        """The deployment ``name``'s answer to the rows ``columns``; see the module doc.
        ``outputs`` names the outputs asked for (None: all the version gives); one it
        cannot give is refused before it predicts."""
        started = time.perf_counter_ns()
        live = self.deployment(name)
        arm: int | None = None
        probability: float | None = None
        if version is not None:
            served = self.served(name, version)
        else:
            if key is None and live.policy.key.field is not None:
                key = _key_from(columns, live.policy.key.field)
            arm, probability = live.router.choose(key)
            served = live.arms[arm]
        rows = count(columns)
        served.loaded.call.check(columns)
        probabilities = _probabilities_asked(outputs, served)
        fallback = False
        try:
            prediction = await self._predict(served, columns, rows, probabilities, live)
        except RefusedValues:
            raise  # the rows are at fault, not the model: a 400, and no fallback
        except Exception as error:  # the rows fit its signature: the failure is the model's
            # logged as the failing version's, so that its error rate counts it
            self._log(
                name, served, arm, probability, columns, None, started, key, request_id, error=error
            )
            backup = live.fallback
            if backup is None or backup is served:
                raise ModelFailed(
                    f"{served.ref} failed on the request ({_why(error)}) and deployment "
                    f"{name!r} has no fallback version to answer instead"
                ) from error
            log.warning("%s failed (%s); %s answers instead", served.ref, _why(error), backup.ref)
            failed, served, fallback, arm, probability = served, backup, True, None, None
            try:
                backup.loaded.call.check(columns)
                prediction = await self._predict(backup, columns, rows, probabilities, live)
            except Exception as second:
                self._log(
                    name, backup, None, None, columns, None, started, key, request_id,
                    fallback=True, error=second,
                )  # fmt: skip
                raise ModelFailed(
                    f"{failed.ref} failed on the request ({_why(error)}) and so did "
                    f"{backup.ref}, deployment {name!r}'s fallback ({_why(second)})"
                ) from second
            self.metrics.fallback(name)
        prediction_id = self._log(
            name, served, arm, probability, columns, prediction, started, key, request_id,
            fallback=fallback,
        )  # fmt: skip
        for shadow in live.shadows:
            self._shadow(live, shadow, columns, rows, prediction_id, request_id, key)
        kept = kept_values(prediction.predictions)
        self.recent.remember(prediction_id, Known(name, served.ref, arm is not None, kept, rows))
        return Answer(prediction, served, prediction_id, request_id, fallback, arm)

    async def shadows_done(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the shadows still answering, so that their
        answers reach the log before it is flushed for the last time."""
        if self._shadow_tasks:
            await asyncio.wait(set(self._shadow_tasks), timeout=timeout)

    def _log(
        self,
        name: str,
        served: Served,
        arm: int | None,
        probability: float | None,
        columns: Columns,
        prediction: Prediction | None,
        started: int,
        key: str | None,
        request_id: str | None,
        *,
        fallback: bool = False,
        error: BaseException | None = None,
    ) -> str:
        """Append the answer of ``served`` (or its failure, ``error``) to the prediction
        log; its prediction id. A fallback's answer follows its primary's failure, both
        with the request's id."""
        prediction_id = new_id()
        if self.log is not None:
            self.log.append(
                PredictionRecord(
                    prediction_id=prediction_id,
                    request_id=request_id,
                    time_us=time.time_ns() // 1000,
                    deployment=name,
                    ref=served.ref,
                    arm=arm,
                    probability=probability,
                    inputs=columns,
                    outputs=None if prediction is None else _outputs(prediction),
                    latency_us=(time.perf_counter_ns() - started) // 1000,
                    key=key,
                    fallback=fallback,
                    error=None if error is None else _why(error),
                )
            )
        return prediction_id

    def learns(self, name: str) -> bool:
        """Whether deployment ``name`` is served and routes by rewards (a bandit)."""
        live = self._live.get(name)
        return live is not None and live.policy.routing != "fixed"

    def reward(self, name: str, ref: str, value: float) -> bool:
        """Reward the arm of bandit deployment ``name`` that ``ref`` serves (a number
        from 0 to 1, else InvalidInput); False when that version is no longer one of its
        arms, or the deployment routes by fixed weights."""
        live = self._live.get(name)
        if live is None or live.policy.routing == "fixed":
            return False  # only a bandit learns from rewards
        for index, served in enumerate(live.arms):
            if served.ref == ref:
                live.router.reward(index, value)
                return True
        return False

    async def _predict(
        self, served: Served, columns: Columns, rows: int, probabilities: bool, live: Live
    ) -> Prediction:
        budget = live.policy.timeout_ms
        waiting = served.batcher.submit(columns, rows, probabilities=probabilities)
        if budget is None:
            return await waiting
        return await asyncio.wait_for(waiting, budget / 1000)

    def _shadow(
        self,
        live: Live,
        shadow: Served,
        columns: Columns,
        rows: int,
        prediction_id: str,
        request_id: str | None,
        key: str | None,
    ) -> None:
        async def run() -> None:
            started = time.perf_counter_ns()
            error = None
            prediction = None
            try:
                shadow.loaded.call.check(columns)
                prediction = await shadow.batcher.submit(columns, rows, probabilities=True)
            except QueueFull:
                self.metrics.shadow_dropped(live.name, shadow.ref)
                return
            except Exception as failed:  # a shadow's failure is logged, never raised
                error = _why(failed)
            if self.log is not None:
                self.log.append(
                    PredictionRecord(
                        prediction_id=new_id(),
                        request_id=prediction_id,
                        time_us=time.time_ns() // 1000,
                        deployment=live.name,
                        ref=shadow.ref,
                        arm=None,
                        probability=None,
                        inputs=columns,
                        outputs=None if prediction is None else _outputs(prediction),
                        latency_us=(time.perf_counter_ns() - started) // 1000,
                        key=key,
                        shadow=True,
                        error=error,
                    )
                )

        task = asyncio.get_running_loop().create_task(run())
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)


def _outputs(prediction: Prediction) -> dict[str, Any]:
    """An answer as the log keeps it (arrays, turned into JSON by the log's writer)."""
    found: dict[str, Any] = {"predictions": prediction.predictions}
    if prediction.probabilities is not None:
        found["probabilities"] = prediction.probabilities
    return found


def _probabilities_asked(outputs: Sequence[str] | None, served: Served) -> bool:
    """Whether ``outputs`` (None: every one) asks for probabilities; InvalidInput for a
    name ``served`` does not give."""
    given = served.loaded.call.outputs
    for position, name in enumerate(outputs or ()):
        if name not in given:
            raise InvalidInput(
                f"outputs[{position}] asks for {name!r}; {served.ref} gives {', '.join(given)}",
                field=f"outputs[{position}].name",
            )
    return outputs is None or PROBABILITIES in outputs


def _key_from(columns: Columns, field: str) -> str | None:
    """The routing key a request carries in its column ``field`` (its first row's value)."""
    values = columns.get(field)
    if values is None or len(values) == 0:
        return None
    first: Any = values[0]
    return str(first.item() if hasattr(first, "item") else first)


def _why(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "it ran past the deployment's time budget"
    return f"{type(error).__name__}: {error}"
