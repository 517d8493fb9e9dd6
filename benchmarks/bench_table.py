"""Read a million-row lesion table: napari-recist's checked reader vs pandas.read_csv.

The table: 21,000 generated patients x 6 time points x 7-8 lesions (926,728 rows, 54 MB),
written once to the temp folder. Each reader runs in a fresh process so its peak memory
(ru_maxrss) is its own. Timed: ``read_table`` (decode, parse every cell, every row and record
rule, build the records) against ``pandas.read_csv`` (parse only, no checks, no records):
the obvious floor of "reading the CSV".

Run: ``.venv/bin/python benchmarks/bench_table.py``
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

TABLE = Path(tempfile.gettempdir()) / "napari-recist-bench-million-rows.csv"
PATIENTS = 21_000

MEASURE = """
import json, resource, sys, time
from pathlib import Path
path = Path(sys.argv[1])
start = time.perf_counter()
if sys.argv[2] == "ours":
    from napari_recist.io.table import read_table
    result = read_table(path)
    rows = sum(len(a.measurements) for r in result.records for a in r.assessments)
else:
    import pandas
    rows = len(pandas.read_csv(path, dtype=str, keep_default_na=False))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak}))
"""


def write_table_once() -> None:
    if TABLE.exists():
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_classify import generate_patient

    from napari_recist.io.table import write_table

    rng = random.Random(1)
    write_table([generate_patient(rng, n) for n in range(PATIENTS)], TABLE)


def run(which: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(TABLE), which],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> int:
    write_table_once()
    size = TABLE.stat().st_size / 1e6
    ours, pandas = run("ours"), run("pandas")
    print(f"lesion table {TABLE} ({size:.0f} MB, {int(ours['rows'])} rows), fresh process each:")
    print(f"  napari-recist read_table (all checks, records): {ours['seconds']:.1f} s, "
          f"peak {ours['peak_mb']:.0f} MB")
    print(f"  pandas.read_csv (parse only, strings):          {pandas['seconds']:.1f} s, "
          f"peak {pandas['peak_mb']:.0f} MB")
    print(f"  ratio: {ours['seconds'] / pandas['seconds']:.1f}x the time, "
          f"{ours['peak_mb'] / pandas['peak_mb']:.1f}x the memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
