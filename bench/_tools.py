"""What the benchmark drivers share: running a command, and a rival tool's own venv."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
INSTALL_TIMEOUT_S = 1_200


class BenchError(Exception):
    """One measurement failed; the others go on."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def short(part: str) -> str:
    """A command word or path without this machine's folders."""
    if "/" not in part or "://" in part:
        return part
    path = Path(part)
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def run_checked(
    command: list[str], *, timeout: float, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command (output captured unless told where it goes); BenchError if it fails."""
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs.setdefault("capture_output", True)
    done = subprocess.run(
        command,
        env=env,
        timeout=timeout,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        shown = " ".join(short(part) for part in command[:3])
        raise BenchError(f"{shown} exited {done.returncode}: {lines[-1] if lines else ''}")
    return done


def ensure_venv(
    venv: Path, requirements: Sequence[str], *, probe: str, env: dict[str, str], name: str
) -> tuple[Path | None, str]:
    """The python of a tool's own venv, made and installed when missing or when its pins
    changed; or None and why not. ``probe`` is Python code that must then run."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed-bench"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"{name.lower()}-install.log"
    say(f"setting up {venv.name} with {' '.join(requirements)} (a minute or two)")
    try:
        if not python.exists():
            base = os.environ.get("PYTHON", "python3")
            run_checked([base, "-m", "venv", str(venv)], timeout=300)
        install = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        with log.open("w") as out:
            done = subprocess.run(
                [*install, "--quiet", *requirements],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        if done.returncode != 0:
            lines = [
                re.sub(r" \(from versions: [^)]*\)", "", line)[:200]
                for line in log.read_text().splitlines()
                if line.strip() and not line.startswith("WARNING: Location")
            ]
            raise BenchError(
                f"pip install {' '.join(requirements)} failed (exit {done.returncode}): "
                + " | ".join(lines[-3:])
                + f" (full log: bench/results/{log.name})"
            )
        run_checked([str(python), "-c", probe], timeout=300, env={**os.environ, **env})
    except (BenchError, OSError, subprocess.TimeoutExpired) as error:
        return None, f"{name} could not be installed: {error}"
    stamp.write_text(wanted)
    return python, ""


def load_average() -> float | None:
    """The 1-minute load average: anything else running on the machine shows here."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def machine() -> dict[str, Any]:
    """Cores, OS, CPU model and memory, for the results file."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "driver_python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    return info


def print_columns(headers: dict[str, str], lines: list[dict[str, str]]) -> None:
    """A plain-text table, one column per key of ``headers``. A line missing some
    columns (a tool that could not be measured) is printed as its values in a row."""
    whole = [line for line in lines if all(c in line for c in headers)]
    widths = {c: max(len(h), *(len(line[c]) for line in whole)) for c, h in headers.items()}
    print()
    print("  ".join(h.ljust(widths[c]) for c, h in headers.items()).rstrip())
    print("  ".join("-" * widths[c] for c in headers))
    for line in lines:
        if line in whole:
            print("  ".join(line[c].ljust(widths[c]) for c in headers).rstrip())
        else:
            first = next(iter(headers))
            rest = [v for k, v in line.items() if k != first]
            print("  ".join([line.get(first, "").ljust(widths[first]), *rest]).rstrip())
    print()
