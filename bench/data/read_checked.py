"""What checking every read costs: a dataset's bytes read plainly, read and checked for
the first time in a process, and read again once the process has checked them.

Run with ``python bench/data/read_checked.py [--mib N] [--repeats N]``.

A Parquet file of about N MiB (random float columns, so it does not compress) is
added to a fresh workspace in a temporary folder; then, each in a fresh process and
with the file in the page cache, as a user's second read would find it:

- ``plain read``: the bytes read from the blob with no check (``cat`` to nowhere);
- ``blake3 of the file``: the check alone, as loopml makes it;
- ``polars, unchecked``: ``pl.read_parquet`` on the blob's own file, as loopml read
  it before every read was checked;
- ``to_polars, first``: ``loopml.data.get(...).to_polars()``, the first call of a
  process: the file is hashed, then read;
- ``to_polars, again``: the same call a second time in that process, the file
  unchanged: the stat-keyed record answers and only Polars reads.

The checked-out copy is made (and settled) before anything is timed.

Prints the median of ``--repeats`` runs of each, in seconds, and the hashing rate.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = """
import sys, numpy as np, polars as pl, loopml
root, mib = sys.argv[1], int(sys.argv[2])
columns = 8
rows = mib * 1024 * 1024 // (8 * columns)
rng = np.random.default_rng(0)
frame = pl.DataFrame({f"c{i}": rng.random(rows) for i in range(columns)})
frame.write_parquet(f"{root}/data.parquet", compression="uncompressed")
with loopml.init(root) as ws:
    version = loopml.data.add(f"{root}/data.parquet", name="big", workspace=ws)
    print(ws.artifacts.location + "/blobs/" + version.digest[:2] + "/" + version.digest[2:])
"""
MEASURE = """
import sys, time, polars as pl, loopml
root, blob, what = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.perf_counter()
if what == "plain read":
    with open(blob, "rb", buffering=0) as f:
        while f.read(4 << 20):
            pass
elif what == "blake3 of the file":
    from loopml.artifacts._verified import file_digest
    file_digest(blob)
elif what == "polars, unchecked":
    pl.read_parquet(blob)
else:
    with loopml.workspace(root) as ws:
        version = loopml.data.get("big@v1", workspace=ws)
        start = time.perf_counter()
        version.to_polars()
        if what == "to_polars, again":
            start = time.perf_counter()
            version.to_polars()
print(time.perf_counter() - start)
"""
CASES = (
    "plain read",
    "blake3 of the file",
    "polars, unchecked",
    "to_polars, first",
    "to_polars, again",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {"PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="loopml-bench-read-") as root:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(SETUP), root, str(args.mib)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        blob = done.stdout.strip().splitlines()[-1]
        size = Path(blob).stat().st_size
        # Warm the page cache and make the checked-out copy, so every case reads from
        # memory; then wait until the copy is settled (the record keeps only those).
        subprocess.run(
            [sys.executable, "-c", MEASURE, root, blob, "to_polars, first"],
            check=True,
            env=env,
            capture_output=True,
        )
        time.sleep(2.5)
        print(f"{size / 2**20:,.0f} MiB Parquet, median of {args.repeats} fresh processes")
        results = {}
        for case in CASES:
            times = [
                float(
                    subprocess.run(
                        [sys.executable, "-c", MEASURE, root, blob, case],
                        capture_output=True,
                        text=True,
                        check=True,
                        env=env,
                    ).stdout
                )
                for _ in range(args.repeats)
            ]
            results[case] = statistics.median(times)
            print(f"  {case:<20} {results[case]:7.3f} s")
        rate = size / 2**30 / results["blake3 of the file"]
        extra = results["to_polars, first"] / results["polars, unchecked"]
        print(
            f"  blake3: {rate:.1f} GiB/s; a first checked read takes {extra:.2f}x an unchecked one"
        )


if __name__ == "__main__":
    main()
