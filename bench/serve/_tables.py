"""The serving benchmark's results as Markdown tables (what ``run.py`` prints and
docs/benchmarks.md records)."""

from __future__ import annotations

from typing import Any

FASTAPI = "fastapi-async predict"  # the reference: the leanest bare endpoint
MLFLOW = "mlflow invocations"
LOOPML = "loopml-ws-one v2:bc"
LOOPML_BINARY = "loopml-ws-one v2bin:bc"  # the same endpoint, Triton's binary tensors


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _ratio(a: Any, b: Any) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


def _get(found: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(found, dict) or key not in found:
            return None
        found = found[key]
    return found


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _errors(found: dict[str, Any]) -> str:
    total = sum(
        _get(found, key, "errors") or 0 for key in ("one", "eight", "c64", "burst", "batch")
    )
    return str(total)


def lr_tables(lr: dict[str, Any]) -> str:
    ref_cpu = _get(lr, FASTAPI, "eight", "server_cpu_ms")
    ref_one = _get(lr, FASTAPI, "one", "server_cpu_ms")
    ml_thr = _get(lr, MLFLOW, "c64", "throughput")
    ml_p99 = _get(lr, MLFLOW, "c64", "p99_ms")
    cpu_rows, load_rows, failed = [], [], []
    for name, found in lr.items():
        if "error" in found:
            failed.append(f"- {name}: not measured: {found['error']}")
            continue
        cpu_rows.append(
            [
                name,
                f"{_f(found['cold_s'])} / {_f(found.get('cold_cpu_s'))}",
                f"{_f(found['rss_mb'], 0)} / {_f(found['pss_mb'], 0)}",
                _f(found["idle_cpu"] * 100, 1),
                _f(_get(found, "one", "server_cpu_ms"), 3),
                _ratio(_get(found, "one", "server_cpu_ms"), ref_one),
                _f(_get(found, "eight", "server_cpu_ms"), 3),
                _ratio(_get(found, "eight", "server_cpu_ms"), ref_cpu),
                _f(_get(found, "batch", "server_cpu_ms"), 2),
                _f(_get(found, "one", "p50_ms"), 3),
            ]
        )
        load_rows.append(
            [
                name,
                _f(_get(found, "c64", "throughput"), 0),
                _f(_get(found, "c64", "p50_ms")),
                _f(_get(found, "c64", "p99_ms")),
                _ratio(_get(found, "c64", "throughput"), ml_thr),
                _ratio(_get(found, "c64", "p99_ms"), ml_p99),
                _f(_get(found, "c64", "loadgen_cpu_share"), 2),
                _f(_get(found, "burst", "p50_ms")),
                _f(_get(found, "burst", "p99_ms")),
                _f(_get(found, "burst", "max_ms")),
                _errors(found),
            ]
        )
    cpu = _table(
        [
            "server endpoint", "cold start s: wall / CPU", "RSS / PSS MB", "idle CPU %",
            "CPU ms/req, 1 client", "vs FastAPI", "CPU ms/req, 8 clients", "vs FastAPI",
            "CPU ms per 1,000-row req", "p50 ms, 1 client",
        ],
        cpu_rows,
    )  # fmt: skip
    load = _table(
        [
            "server endpoint", "64 clients req/s", "p50 ms", "p99 ms", "req/s vs MLflow",
            "p99 vs MLflow", "load generator CPU share", "bursty p50 ms", "bursty p99 ms",
            "bursty max ms", "failed requests",
        ],
        load_rows,
    )  # fmt: skip
    return "\n\n".join([cpu, load, *(["\n".join(failed)] if failed else [])])


def rf_table(rf: dict[str, Any]) -> str:
    rows, failed = [], []
    for name, found in rf.items():
        if "error" in found:
            failed.append(f"- {name}: not measured: {found['error']}")
            continue
        rows.append(
            [
                name,
                _f(_get(found, "one", "p50_ms"), 3),
                _f(_get(found, "one", "server_cpu_ms"), 3),
                _f(_get(found, "c64", "throughput"), 0),
                _f(_get(found, "c64", "p50_ms")),
                _f(_get(found, "c64", "p99_ms")),
                str((_get(found, "one", "errors") or 0) + (_get(found, "c64", "errors") or 0)),
            ]
        )
    headers = [
        "server endpoint", "p50 ms, 1 client", "CPU ms/req, 1 client", "64 clients req/s",
        "p50 ms", "p99 ms", "failed requests",
    ]  # fmt: skip
    return "\n\n".join([_table(headers, rows), *(["\n".join(failed)] if failed else [])])


def targets(results: dict[str, Any]) -> str:
    lr, rf = results.get("lr", {}), results.get("rf", {})
    memory, workers = results.get("loopml_memory", {}), results.get("two_workers", {})
    on, off = "loopml-ws-rf v2:rf", "loopml-ws-rf v2:rf-off"
    rows = []

    def row(what: str, target: str, value: Any, ok: bool | None) -> None:
        verdict = "-" if ok is None else ("met" if ok else "**missed**")
        rows.append([what, target, value, verdict])

    def check(value: Any, test: Any) -> bool | None:
        return None if value is None else bool(test(value))

    turns = results.get("alternating_cpu", {})
    ref = turns.get("fastapi_median_ms")
    rounds = len(turns.get("fastapi", []))
    for endpoint in ("v2", "invocations"):
        mine = turns.get(f"{endpoint}_median_ms")
        paired = turns.get(f"{endpoint}_paired_ratio")
        shown = (
            f"{_f(paired)}x (median of {rounds} turns' ratios); medians {_f(mine, 3)} / "
            f"{_f(ref, 3)} ms = {_ratio(mine, ref)}"
        )
        row(f"CPU per single-row request, 1 client, {endpoint}", "≤ 1.2x FastAPI", shown,
            check(paired, lambda r: r <= 1.2))  # fmt: skip
    mine = _get(lr, LOOPML, "eight", "server_cpu_ms")
    ref = _get(lr, FASTAPI, "eight", "server_cpu_ms")
    ratio = mine / ref if mine is not None and ref else None
    row("CPU per single-row request, 8 clients", "≤ 1.2x FastAPI", _ratio(mine, ref),
        check(ratio, lambda r: r <= 1.2))  # fmt: skip
    thr = _get(lr, LOOPML, "c64", "throughput")
    ml_thr = _get(lr, MLFLOW, "c64", "throughput")
    row("64 clients: throughput", "≥ 3x MLflow", _ratio(thr, ml_thr),
        check(thr / ml_thr if thr and ml_thr else None, lambda r: r >= 3))  # fmt: skip
    p99, ml_p99 = _get(lr, LOOPML, "c64", "p99_ms"), _get(lr, MLFLOW, "c64", "p99_ms")
    row("64 clients: p99", "≤ ⅓ of MLflow's", _ratio(p99, ml_p99),
        check(p99 / ml_p99 if p99 and ml_p99 else None, lambda r: r <= 1 / 3))  # fmt: skip
    burst = _get(lr, LOOPML, "burst", "p99_ms")
    row("bursty 1,000/s: p99", "< 10 ms", f"{_f(burst)} ms", check(burst, lambda v: v < 10))
    thr_on, thr_off = _get(rf, on, "c64", "throughput"), _get(rf, off, "c64", "throughput")
    row("RandomForest, 64 clients: batching on / off", "≥ 3x", _ratio(thr_on, thr_off),
        check(thr_on / thr_off if thr_on and thr_off else None, lambda r: r >= 3))  # fmt: skip
    alternating = results.get("batching_p50", {})
    p_on, p_off = alternating.get("on_median_ms"), alternating.get("off_median_ms")
    rise = alternating.get("rise_paired_ms")
    shown = f"{_f(rise, 3)} ms (medians {_f(p_on, 3)} and {_f(p_off, 3)})"
    label = "RandomForest, 1 client: p50 on - off (median of alternating runs' differences)"
    row(label, "≤ 0.2 ms", shown, check(rise, lambda v: v <= 0.2))
    json_batch = _get(lr, FASTAPI, "batch", "server_cpu_ms")
    for name, form in ((LOOPML_BINARY, "binary tensors"), (LOOPML, "JSON tensors")):
        batch = _get(lr, name, "batch", "server_cpu_ms")
        row(f"1,000-row request, {form}: server CPU", "≤ 2.5 ms",
            f"{_f(batch)} ms (FastAPI, JSON: {_f(json_batch)} ms)",
            check(batch, lambda v: v <= 2.5))  # fmt: skip
    starts = results.get("cold_starts", {})
    cold, cold_cpu = _get(starts, "loopml", "wall_median_s"), _get(starts, "loopml", "cpu_median_s")
    ref, ref_cpu = _get(starts, "fastapi", "wall_median_s"), _get(starts, "fastapi", "cpu_median_s")
    row(f"cold start to first prediction (medians of {starts.get('rounds', '-')}, in turns "
        "with FastAPI)", "< 1.5 s",
        f"{_f(cold)} s, {_f(cold_cpu)} s of it CPU (FastAPI `async def`: {_f(ref)} s, "
        f"CPU {_f(ref_cpu)} s)", check(cold, lambda v: v < 1.5))  # fmt: skip
    one, three = memory.get("rss_one_mb"), memory.get("rss_three_mb")
    row("resident memory, one small model", "< 200 MB", f"{_f(one, 0)} MB",
        check(one, lambda v: v < 200))  # fmt: skip
    row("resident memory, three versions live", "≤ 1.5x one", _ratio(three, one),
        check(three / one if three and one else None, lambda r: r <= 1.5))  # fmt: skip
    for name, found in workers.items():
        p50 = _get(found, "p50_ms")
        label = f"--workers 2, 1 client: p50 ({name})"
        row(label, "no 40 ms Nagle floor", f"{_f(p50, 3)} ms", check(p50, lambda v: v < 5))
    return _table(["loopml (v2 endpoint)", "target", "measured", ""], rows)


def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    head = (
        f"Measured {results['date']} on {info.get('cpu', '?')}, {info.get('cores')} cores, "
        f"{info.get('memory_gib')} GiB; 1-minute load average {results['load_average_start']} "
        f"at the start, {results['load_average_end']} at the end."
    )
    parts = [head]
    if results.get("not_measured"):
        parts.append(
            "\n".join(f"- not measured: {why}" for why in results["not_measured"].values())
        )
    parts.append(targets(results))
    if results.get("lr"):
        parts.append(lr_tables(results["lr"]))
    if results.get("rf"):
        parts.append(rf_table(results["rf"]))
    return "\n\n".join(parts) + "\n"
