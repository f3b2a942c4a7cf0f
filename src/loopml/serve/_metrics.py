"""The server's Prometheus metrics, per deployment and version, served at ``/metrics``.

``loopml_requests_total`` (answered, by deployment, version, protocol, status code),
``loopml_errors_total`` (by protocol and status code),
``loopml_request_seconds`` (latency histogram, by deployment and version),
``loopml_fallbacks_total``, ``loopml_shadow_dropped_total``, ``loopml_batch_rows`` and
``loopml_batch_requests`` (histograms of what each model call answered) and
``loopml_queue_rows`` (rows waiting, per version), and ``loopml_swaps_total``.

A request is counted in plain integers, not prometheus-client's metric objects: those
take a lock for every increment, and a request's seven increments cost more than the
rest of its counting (a tenth of the server's own work on a one-row request). Every
count is made on the event loop's thread (requests, errors, batches and fallbacks all
are), so nothing else writes them at once; a collector turns them into Prometheus'
families when ``/metrics`` is read. Each server has a registry of its own (not
prometheus-client's global one), so two servers in one process, as in tests, count
apart.

>>> metrics = Metrics()
>>> metrics.request("churn", "churn@v2", "v2", 200, 0.0007)
>>> text = metrics.exposition().decode()
>>> 'loopml_requests_total{code="200",deployment="churn",' in text
True
>>> 'loopml_request_seconds_bucket{deployment="churn",le="0.001",version="churn@v2"} 1.0' in text
True
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)
_DEPLOYMENT_VERSION = ("deployment", "version")


class Histogram:
    """Counts of values by Prometheus bucket (each value in the first bucket whose upper
    bound is at least it; the last, past every bound, is ``+Inf``) and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus shows them: each counts every value up to it."""
        found, total = [], 0
        for bound, count in zip((*map(_bound, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            found.append((bound, float(total)))
        return found


def _bound(value: float) -> str:
    return repr(float(value))


class Metrics:
    """The counts of one server."""

    def __init__(self) -> None:
        # counts keyed by their labels' values, in the order of each family's labels
        self.requests: Counter[tuple[str, ...]] = Counter()
        self.fallbacks: Counter[tuple[str, ...]] = Counter()
        self.dropped: Counter[tuple[str, ...]] = Counter()  # shadows' copies with no room
        self.errors: Counter[tuple[str, ...]] = Counter()
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.batch_rows: dict[tuple[str, str], Histogram] = {}
        self.batch_requests: dict[tuple[str, str], Histogram] = {}
        self.swaps = 0
        self._queues: list[tuple[str, str, int]] = []
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Collector(self))

    def request(
        self, deployment: str, version: str, protocol: str, code: int, seconds: float
    ) -> None:
        self.requests[deployment, version, protocol, str(code)] += 1
        if code < 400:
            histogram = self.latency.get((deployment, version))
            if histogram is None:
                histogram = self.latency[deployment, version] = Histogram(_LATENCY_BUCKETS)
            histogram.observe(seconds)

    def error(self, protocol: str, code: int) -> None:
        self.errors[protocol, str(code)] += 1

    def fallback(self, deployment: str) -> None:
        self.fallbacks[(deployment,)] += 1

    def shadow_dropped(self, deployment: str, version: str) -> None:
        self.dropped[deployment, version] += 1

    def swapped(self) -> None:
        self.swaps += 1  # by the watcher's thread alone

    def on_batch(self, deployment: str, version: str) -> Callable[[int, int], None]:
        """What a batcher calls with the rows and requests of each model call."""
        key = (deployment, version)
        rows = self.batch_rows.setdefault(key, Histogram(_ROW_BUCKETS))
        requests = self.batch_requests.setdefault(key, Histogram(_ROW_BUCKETS))

        def observe(count: int, asked: int) -> None:
            rows.observe(count)
            requests.observe(asked)

        return observe

    def exposition(self, queues: Iterable[tuple[str, str, int]] = ()) -> bytes:
        """The metrics in Prometheus' text format; ``queues`` are the rows waiting now,
        per deployment and version (read at scrape time, not counted per request)."""
        self._queues = list(queues)
        return generate_latest(self.registry)


class _Collector:
    """Prometheus' families of a :class:`Metrics`' counts, made when they are read."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        yield _counter(
            "loopml_requests",
            "Requests answered",
            ("deployment", "version", "protocol", "code"),
            m.requests,
        )
        yield _histogram(
            "loopml_request_seconds", "Time from a request's arrival to its answer", m.latency
        )
        yield _counter(
            "loopml_fallbacks",
            "Requests answered by the fallback version",
            ("deployment",),
            m.fallbacks,
        )
        yield _counter(
            "loopml_shadow_dropped",
            "Copies of requests a shadow version had no room for",
            _DEPLOYMENT_VERSION,
            m.dropped,
        )
        yield _histogram("loopml_batch_rows", "Rows per model call", m.batch_rows)
        yield _histogram("loopml_batch_requests", "Requests per model call", m.batch_requests)
        queued = GaugeMetricFamily(
            "loopml_queue_rows", "Rows waiting for a model call", labels=_DEPLOYMENT_VERSION
        )
        for deployment, version, rows in m._queues:
            queued.add_metric((deployment, version), rows)
        yield queued
        yield CounterMetricFamily("loopml_swaps", "Changes of what is served", value=m.swaps)
        yield _counter(
            "loopml_errors",
            "Requests answered with an error, by protocol and status code",
            ("protocol", "code"),
            m.errors,
        )


def _counter(
    name: str, documentation: str, labels: tuple[str, ...], counts: Counter[tuple[str, ...]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, count in list(counts.items()):
        family.add_metric(key, count)
    return family


def _histogram(
    name: str, documentation: str, histograms: dict[tuple[str, str], Histogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=_DEPLOYMENT_VERSION)
    for key, histogram in list(histograms.items()):
        family.add_metric(key, histogram.cumulative(), sum_value=histogram.sum)
    return family
