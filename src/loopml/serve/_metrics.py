"""The server's Prometheus metrics, per deployment and version, served at ``/metrics``.

``loopml_requests_total`` (answered, by deployment, version, protocol, status code),
``loopml_errors_total`` (by protocol and status code),
``loopml_request_seconds`` (latency histogram, by deployment and version),
``loopml_fallbacks_total``, ``loopml_shadow_dropped_total``, ``loopml_batch_rows`` and
``loopml_batch_requests`` (histograms of what each model call answered) and
``loopml_queue_rows`` (rows waiting, per version), and ``loopml_swaps_total``.

Each server has a registry of its own (not prometheus-client's global one), so two
servers in one process, as in tests, count apart. Label children are looked up once
and kept: a request costs a dict lookup and an increment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


class Metrics:
    """The counters of one server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter(
            "loopml_requests",
            "Requests answered",
            ["deployment", "version", "protocol", "code"],
            registry=r,
        )
        self._latency = Histogram(
            "loopml_request_seconds",
            "Time from a request's arrival to its answer",
            ["deployment", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._fallbacks = Counter(
            "loopml_fallbacks",
            "Requests answered by the fallback version",
            ["deployment"],
            registry=r,
        )
        self._shadow_dropped = Counter(
            "loopml_shadow_dropped",
            "Copies of requests a shadow version had no room for",
            ["deployment", "version"],
            registry=r,
        )
        self._batch_rows = Histogram(
            "loopml_batch_rows",
            "Rows per model call",
            ["deployment", "version"],
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self._batch_requests = Histogram(
            "loopml_batch_requests",
            "Requests per model call",
            ["deployment", "version"],
            buckets=_ROW_BUCKETS,
            registry=r,
        )
        self.queue_rows = Gauge(
            "loopml_queue_rows",
            "Rows waiting for a model call",
            ["deployment", "version"],
            registry=r,
        )
        self._swaps = Counter("loopml_swaps", "Changes of what is served", registry=r)
        self._errors = Counter(
            "loopml_errors",
            "Requests answered with an error, by protocol and status code",
            ["protocol", "code"],
            registry=r,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric``'s child for ``labels``, looked up once and kept."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(
        self, deployment: str, version: str, protocol: str, code: int, seconds: float
    ) -> None:
        self._child(self._requests, deployment, version, protocol, str(code)).inc()
        if code < 400:
            self._child(self._latency, deployment, version).observe(seconds)

    def error(self, protocol: str, code: int) -> None:
        self._child(self._errors, protocol, str(code)).inc()

    def fallback(self, deployment: str) -> None:
        self._child(self._fallbacks, deployment).inc()

    def shadow_dropped(self, deployment: str, version: str) -> None:
        self._child(self._shadow_dropped, deployment, version).inc()

    def swapped(self) -> None:
        self._swaps.inc()

    def on_batch(self, deployment: str, version: str) -> Callable[[int, int], None]:
        """What a batcher calls with the rows and requests of each model call."""
        rows = self._batch_rows.labels(deployment, version)
        requests = self._batch_requests.labels(deployment, version)

        def observe(count: int, asked: int) -> None:
            rows.observe(count)
            requests.observe(asked)

        return observe

    def exposition(self, queues: Iterable[tuple[str, str, int]] = ()) -> bytes:
        """The metrics in Prometheus' text format; ``queues`` are the rows waiting now,
        per deployment and version (read at scrape time, not counted per request)."""
        for deployment, version, rows in queues:
            self.queue_rows.labels(deployment, version).set(rows)
        return generate_latest(self.registry)
