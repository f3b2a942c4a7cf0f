"""Versioning data: loopml next to DVC, on the same files, in one run.

Part of ``make bench-data`` (``bench/data/run.py``; ``--part versioning`` runs this
alone). DVC lives in its own venv, ``.venv-bench-dvc``, made here when missing.

- **10,000 small files** (100 folders of 100 files, 512 B to 4 KiB each): the first
  add, a re-add with nothing changed, and a re-add after one file changed, by
  ``loopml data add`` and ``dvc add``, each a fresh process on the same folder in
  turn; and loopml's ``loopml.data.add`` timed inside a process (imports and the
  opened workspace not counted), then a verify of every blob and a checkout of the
  first version in that process.
- **A 1 GiB file** stored: ``cp`` + ``sync FILE`` (the disk's limit), loopml's
  ``ArtifactStore.put_file`` timed inside a process and ``loopml artifacts put``,
  and ``dvc add``.
- **A CSV of about 536 MB** added, then re-added unchanged, by both.
- **``loopml data diff``** of two 1.5M-row versions (no rival: ``dvc diff`` compares
  files, not rows).

Before each timed command, the filesystem is flushed (``sync -f``, not timed), so
that no tool pays for another's writes. The big files are made once per run and
deleted at its end.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _tools import ensure_venv, run_checked, say

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "bench" / "data"
DVC_VENV = ROOT / ".venv-bench-dvc"
DVC_REQUIREMENTS = ("dvc==3.67.1",)
# DVC's usage analytics are off when DVC_NO_ANALYTICS is set (and with the
# iterative-telemetry switch); nothing leaves the machine.
DVC_ENV = {"DVC_NO_ANALYTICS": "1", "ITERATIVE_DO_NOT_TRACK": "1", "DO_NOT_TRACK": "1"}
LOOPML_ENV = {"LOOPML_PROGRESS": "0"}
FILES, FOLDERS = 10_000, 100
BIG_BYTES = 1024**3
CSV_ROWS = 9_000_000  # about 536 MB
DIFF_ROWS = 1_500_000
CHANGED = "d050/f05000.bin"
TIMEOUT_S = 900
SETTLE_S = 1.0  # files this old are outside the stat cache's window for recent writes


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_dvc() -> tuple[Path | None, str]:
    return ensure_venv(DVC_VENV, DVC_REQUIREMENTS, probe="import dvc.repo", env=DVC_ENV, name="DVC")


# -- the files ---------------------------------------------------------------------------


def make_small_files(folder: Path) -> None:
    import random

    rng = random.Random(11)
    for index in range(FILES):
        sub = folder / f"d{index // (FILES // FOLDERS):03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index:05d}.bin").write_bytes(rng.randbytes(rng.randint(512, 4096)))


def make_big_file(path: Path) -> None:
    with path.open("wb") as out:
        for _ in range(BIG_BYTES // (64 * 1024**2)):
            out.write(os.urandom(64 * 1024**2))


def make_tables(python: Path, folder: Path) -> None:
    code = f"""
import numpy as np, polars as pl, sys
folder = sys.argv[1]
def table(rows, seed):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({{
        "id": np.arange(rows),
        "amount": np.round(rng.gamma(2.0, 40.0, rows), 2),
        "score": np.round(rng.normal(0, 1, rows), 6),
        "count": rng.integers(0, 1000, rows),
        "city": rng.choice(["oslo", "lima", "pune", "kyiv", "accra"], rows),
        "plan": rng.choice(["basic", "pro", "team"], rows),
        "rate": np.round(rng.random(rows), 6),
        "age": rng.integers(18, 90, rows),
        "flag": rng.random(rows) < 0.3,
        "day": rng.integers(0, 3650, rows),
    }})
table({CSV_ROWS}, 1).write_csv(f"{{folder}}/big.csv")
base = table({DIFF_ROWS}, 2)
base.write_csv(f"{{folder}}/diff-v1.csv")
changed = pl.concat([base.slice({DIFF_ROWS // 100}), table({DIFF_ROWS // 50}, 3)])
changed.write_csv(f"{{folder}}/diff-v2.csv")
"""
    run_checked([str(python), "-c", code, str(folder)], timeout=TIMEOUT_S)


# -- timing ------------------------------------------------------------------------------


def settle(folder: Path) -> None:
    """Flush what earlier steps left dirty (not timed)."""
    subprocess.run(["sync", "-f", str(folder)], check=False, timeout=TIMEOUT_S)


def timed(command: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    settle(cwd)
    started = time.perf_counter()
    run_checked(command, cwd=cwd, env={**os.environ, **env}, timeout=TIMEOUT_S)
    return time.perf_counter() - started


def worker(python: Path, *args: str, cwd: Path) -> dict[str, Any]:
    settle(cwd)
    done = run_checked(
        [str(python), str(HERE / "worker_versioning.py"), *args],
        cwd=cwd,
        env={**os.environ, **LOOPML_ENV},
        timeout=TIMEOUT_S,
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# -- the run -----------------------------------------------------------------------------


def run(scratch: Path, loopml_python: Path, repeats: int) -> dict[str, Any]:
    """Every measurement; the files are made under ``scratch`` and removed after."""
    dvc_python, dvc_missing = ensure_dvc()
    loopml_cli = [str(loopml_python), "-m", "loopml"]
    dvc_cli = [str(python_of(DVC_VENV)), "-m", "dvc"] if dvc_python else None
    results: dict[str, Any] = {"dvc_missing": dvc_missing, "repeats": repeats}
    pristine = scratch / "pristine"
    say(f"making {FILES:,} small files, a 1 GiB file and the CSV tables")
    make_small_files(pristine / "data")
    make_big_file(scratch / "big.bin")
    make_tables(loopml_python, scratch)
    try:
        results["small"] = small_files(
            scratch, pristine, loopml_cli, dvc_cli, loopml_python, repeats
        )
        results["big"] = big_file(scratch, loopml_cli, dvc_cli, loopml_python, repeats)
        results["csv"] = csv_file(scratch, loopml_cli, dvc_cli, loopml_python)
    finally:
        for name in ("big.bin", "big.csv", "diff-v1.csv", "diff-v2.csv"):
            (scratch / name).unlink(missing_ok=True)
    return results


def fresh_repo(scratch: Path, loopml_cli: list[str], dvc_cli: list[str] | None) -> Path:
    """A folder that is both a loopml workspace and a DVC repository (no git)."""
    repo = scratch / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir()
    run_checked([*loopml_cli, "init"], cwd=repo, timeout=TIMEOUT_S)
    if dvc_cli is not None:
        run_checked([*dvc_cli, "init", "--no-scm", "-q"], cwd=repo, timeout=TIMEOUT_S)
    return repo


def small_files(
    scratch: Path,
    pristine: Path,
    loopml_cli: list[str],
    dvc_cli: list[str] | None,
    loopml_python: Path,
    repeats: int,
) -> dict[str, Any]:
    samples: dict[str, list[float]] = {}

    def note(key: str, seconds: float) -> None:
        samples.setdefault(key, []).append(seconds)

    for repeat in range(repeats):
        say(f"  10,000 small files, run {repeat + 1}/{repeats}")
        repo = fresh_repo(scratch, loopml_cli, dvc_cli)
        shutil.copytree(pristine / "data", repo / "data")
        time.sleep(SETTLE_S)
        add = [*loopml_cli, "data", "add", "data", "--name", "small"]
        steps = [("add", None), ("readd", None), ("change", repo / "data" / CHANGED)]
        for step, changed in steps:
            if changed is not None:
                changed.write_bytes(changed.read_bytes() + b"!")
            note(f"loopml_cli_{step}", timed(add, cwd=repo, env=LOOPML_ENV))
            if dvc_cli is not None:
                note(f"dvc_{step}", timed([*dvc_cli, "add", "-q", "data"], cwd=repo, env=DVC_ENV))
        api = worker(
            loopml_python, "folder", str(repo / "data"), str(scratch / "ws-api"), CHANGED, cwd=repo
        )
        shutil.rmtree(scratch / "ws-api", ignore_errors=True)
        for index, step in enumerate(("add", "readd", "change", "verify", "checkout")):
            note(f"loopml_api_{step}", api[f"{step}_s"])
            note(f"loopml_api_{step}_cpu", api["cpu_s"][index])
        shutil.rmtree(repo, ignore_errors=True)
    return summarize(samples)


def big_file(
    scratch: Path,
    loopml_cli: list[str],
    dvc_cli: list[str] | None,
    loopml_python: Path,
    repeats: int,
) -> dict[str, Any]:
    samples: dict[str, list[float]] = {}
    source = scratch / "big.bin"
    for repeat in range(repeats):
        say(f"  a 1 GiB file, run {repeat + 1}/{repeats}")
        copy = scratch / "copy.bin"
        seconds = timed(
            ["sh", "-c", f"cp '{source}' '{copy}' && sync '{copy}'"], cwd=scratch, env={}
        )
        samples.setdefault("cp_sync", []).append(seconds)
        copy.unlink()
        api = worker(loopml_python, "file", str(source), str(scratch / "ws-api"), cwd=scratch)
        samples.setdefault("loopml_api", []).append(api["put_s"])
        samples.setdefault("loopml_api_cpu", []).append(api["cpu_s"][0])
        shutil.rmtree(scratch / "ws-api", ignore_errors=True)
        repo = fresh_repo(scratch, loopml_cli, dvc_cli)
        os.link(source, repo / "big.bin")  # the same bytes, no copy: both tools read them
        put = [*loopml_cli, "artifacts", "put", "big.bin", "--name", "big"]
        samples.setdefault("loopml_cli", []).append(timed(put, cwd=repo, env=LOOPML_ENV))
        if dvc_cli is not None:
            dvc = [*dvc_cli, "add", "-q", "big.bin"]
            samples.setdefault("dvc", []).append(timed(dvc, cwd=repo, env=DVC_ENV))
        shutil.rmtree(repo, ignore_errors=True)
    return summarize(samples)


def csv_file(
    scratch: Path, loopml_cli: list[str], dvc_cli: list[str] | None, loopml_python: Path
) -> dict[str, Any]:
    say("  a 536 MB-class CSV, and a diff of two 1.5M-row versions")
    samples: dict[str, list[float]] = {}
    repo = fresh_repo(scratch, loopml_cli, dvc_cli)
    os.link(scratch / "big.csv", repo / "big.csv")
    time.sleep(SETTLE_S)
    add = [*loopml_cli, "data", "add", "big.csv", "--name", "big"]
    for step in ("add", "readd"):
        samples[f"loopml_cli_{step}"] = [timed(add, cwd=repo, env=LOOPML_ENV)]
        if dvc_cli is not None:
            dvc = [*dvc_cli, "add", "-q", "big.csv"]
            samples[f"dvc_{step}"] = [timed(dvc, cwd=repo, env=DVC_ENV)]
    api = worker(loopml_python, "table", str(repo / "big.csv"), str(scratch / "ws-api"), cwd=repo)
    shutil.rmtree(scratch / "ws-api", ignore_errors=True)
    samples["loopml_api_add"], samples["loopml_api_readd"] = [api["add_s"]], [api["readd_s"]]
    samples["loopml_api_add_cpu"], samples["loopml_api_readd_cpu"] = (
        [api["cpu_s"][0]],
        [api["cpu_s"][1]],
    )
    for version in ("v1", "v2"):
        shutil.copyfile(scratch / f"diff-{version}.csv", repo / "diff.csv")
        add_diff = [*loopml_cli, "data", "add", "diff.csv", "--name", "d"]
        run_checked(add_diff, cwd=repo, env={**os.environ, **LOOPML_ENV}, timeout=TIMEOUT_S)
    diff = [*loopml_cli, "data", "diff", "d@v1", "d@v2"]
    samples["loopml_cli_diff"] = [timed(diff, cwd=repo, env=LOOPML_ENV) for _ in range(3)]
    samples["csv_bytes"] = [float((repo / "big.csv").stat().st_size)]
    shutil.rmtree(repo, ignore_errors=True)
    return summarize(samples)


def summarize(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {
        key: {"median": statistics.median(values), "samples": values}
        for key, values in samples.items()
    }


# -- the report --------------------------------------------------------------------------

TARGET_SMALL_ADD_S = 1.0
TARGET_SMALL_CHANGE_S = 0.2
TARGET_BIG_VS_CP = 1.2


def report(results: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The table's lines and the verdicts on the targets."""

    def median(part: str, key: str) -> float | None:
        found = results.get(part, {}).get(key)
        return None if found is None else float(found["median"])

    def line(
        what: str, loopml: float | None, rival: float | None, how: str, cpu: float | None = None
    ) -> dict[str, str]:
        return {
            "what": what,
            "loopml": "" if loopml is None else f"{loopml:.3f}",
            "cpu": "" if cpu is None else f"{cpu:.3f}",
            "rival": "" if rival is None else f"{rival:.3f}",
            "ratio": "" if not (loopml and rival) else f"{rival / loopml:.2f}x",
            "how": how,
        }

    lines = []
    for step, what in (
        ("add", "add"),
        ("readd", "re-add, unchanged"),
        ("change", "re-add, one changed"),
    ):
        lines.append(
            line(
                f"10,000 files: {what}",
                median("small", f"loopml_cli_{step}"),
                median("small", f"dvc_{step}"),
                "CLI vs dvc add",
            )
        )
        lines.append(
            line(
                f"10,000 files: {what}",
                median("small", f"loopml_api_{step}"),
                None,
                "loopml.data.add in a process",
                median("small", f"loopml_api_{step}_cpu"),
            )
        )
    for step, what in (("verify", "verify"), ("checkout", "checkout")):
        lines.append(
            line(
                f"10,000 files: {what}",
                median("small", f"loopml_api_{step}"),
                None,
                f"{what} of v1 in a process",
                median("small", f"loopml_api_{step}_cpu"),
            )
        )
    lines.append(
        line(
            "1 GiB file",
            median("big", "loopml_cli"),
            median("big", "dvc"),
            "artifacts put vs dvc add",
        )
    )
    lines.append(
        line(
            "1 GiB file",
            median("big", "loopml_api"),
            median("big", "cp_sync"),
            "put_file vs cp + sync FILE",
            median("big", "loopml_api_cpu"),
        )
    )
    for step, what in (("add", "add"), ("readd", "re-add, unchanged")):
        lines.append(
            line(
                f"536 MB CSV: {what}",
                median("csv", f"loopml_cli_{step}"),
                median("csv", f"dvc_{step}"),
                "CLI vs dvc add",
            )
        )
        lines.append(
            line(
                f"536 MB CSV: {what}",
                median("csv", f"loopml_api_{step}"),
                None,
                "loopml.data.add in a process",
                median("csv", f"loopml_api_{step}_cpu"),
            )
        )
    lines.append(
        line("diff, 1.5M rows", median("csv", "loopml_cli_diff"), None, "loopml data diff (CLI)")
    )

    verdicts = []

    def verdict(target: str, value: float | None, limit: float, measured: str) -> None:
        text = "not measured" if value is None else ("met" if value < limit else "MISSED")
        verdicts.append({"target": target, "verdict": text, "measured": measured})

    add = median("small", "loopml_api_add")
    verdict("10,000 small files added in under 1 s", add, TARGET_SMALL_ADD_S, f"{add} s")
    change = median("small", "loopml_api_change")
    verdict(
        "re-added after one change in under 0.2 s", change, TARGET_SMALL_CHANGE_S, f"{change} s"
    )
    put, cp = median("big", "loopml_api"), median("big", "cp_sync")
    ratio = put / cp if put and cp else None
    verdict("1 GiB stored within 1.2x of cp + sync", ratio, TARGET_BIG_VS_CP, f"{put} s vs {cp} s")
    return lines, verdicts


COLUMNS = {
    "what": "measure",
    "loopml": "loopml s",
    "cpu": "loopml CPU s",
    "rival": "DVC / cp s",
    "ratio": "rival / loopml",
    "how": "how",
}


if __name__ == "__main__":
    sys.exit("run bench/data/run.py --part versioning")
