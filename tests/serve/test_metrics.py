"""The server's metrics, counted in plain integers, read as prometheus-client's own
metric objects would give them."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from loopml.serve._metrics import _LATENCY_BUCKETS, _ROW_BUCKETS, Metrics


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_counts_and_histograms_are_what_prometheus_client_counts():
    rng = np.random.default_rng(3)
    latencies = np.concatenate([rng.exponential(0.004, 2_000), _LATENCY_BUCKETS, [7.0]])
    batches = rng.integers(1, 5_000, 500)

    ours = Metrics()
    registry = CollectorRegistry()
    requests = Counter("loopml_requests", "", ["deployment", "version", "protocol", "code"],
                       registry=registry)  # fmt: skip
    latency = Histogram("loopml_request_seconds", "", ["deployment", "version"],
                        buckets=_LATENCY_BUCKETS, registry=registry)  # fmt: skip
    rows = Histogram("loopml_batch_rows", "", ["deployment", "version"],
                     buckets=_ROW_BUCKETS, registry=registry)  # fmt: skip
    errors = Counter("loopml_errors", "", ["protocol", "code"], registry=registry)

    for index, seconds in enumerate(latencies):
        version = f"churn@v{index % 2 + 1}"
        ours.request("churn", version, "v2", 200, float(seconds))
        requests.labels("churn", version, "v2", "200").inc()
        latency.labels("churn", version).observe(float(seconds))
    observe = ours.on_batch("churn", "churn@v1")
    for count in batches:
        observe(int(count), 1)
        rows.labels("churn", "churn@v1").observe(int(count))
    for code in (400, 404, 404):
        ours.error("v2", code)
        errors.labels("v2", str(code)).inc()

    from prometheus_client import generate_latest

    expected = samples(generate_latest(registry))
    got = samples(ours.exposition())
    assert expected  # the reference counted something
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert got[("loopml_request_seconds_bucket",
                (("deployment", "churn"), ("le", "+Inf"), ("version", "churn@v1")))] == (
        (len(latencies) + 1) // 2
    )  # fmt: skip


def test_queues_fallbacks_drops_and_swaps_are_shown():
    metrics = Metrics()
    metrics.fallback("churn")
    metrics.fallback("churn")
    metrics.shadow_dropped("churn", "churn@v3")
    metrics.swapped()
    got = samples(metrics.exposition([("churn", "churn@v2", 7)]))
    assert got[("loopml_fallbacks_total", (("deployment", "churn"),))] == 2
    assert got[("loopml_shadow_dropped_total",
                (("deployment", "churn"), ("version", "churn@v3")))] == 1  # fmt: skip
    assert got[("loopml_swaps_total", ())] == 1
    assert got[("loopml_queue_rows", (("deployment", "churn"), ("version", "churn@v2")))] == 7
