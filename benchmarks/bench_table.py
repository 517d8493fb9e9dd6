"""Read a million-row lesion table: napari-recist's checked reader vs pandas.read_csv.

The table: 21,000 generated patients x 6 time points x 7-8 lesions (926,728 rows, 54 MB),
written once to the temp folder. Timed: ``read_table`` (decode, parse every cell, every row and
record rule, build the records) against ``pandas.read_csv`` (parse only, no checks, no
records): the obvious floor of "reading the CSV"; with ``--row-wise`` also the row-wise
reference reader (``table._split_csv`` + ``table._rows_to_result``, what read_table did before
issue 12's column-wise path). The import of the reader's modules is timed apart.

Each reader runs in a fresh process (``python -c``), and its peak memory is that process's own
high-water mark, ``VmHWM`` of ``/proc/self/status`` (Linux): ``ru_maxrss`` of RUSAGE_SELF
in a child that ``subprocess`` started with vfork/exec starts from the parent's size (the kernel
carries the pre-exec high-water mark over), so it reported the parent, which had just
generated the table.

Run: ``.venv/bin/python benchmarks/bench_table.py [--row-wise]``
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
import json, sys, time
from pathlib import Path


def high_water_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


path = Path(sys.argv[1])
start = time.perf_counter()
if sys.argv[2] == "pandas":
    import pandas
else:
    from napari_recist.io import table
imported = time.perf_counter()
if sys.argv[2] == "ours":
    result = table.read_table(path)
elif sys.argv[2] == "row-wise":
    text = table._decode(path.read_bytes(), str(path))
    header, header_row, numbered = table._split_csv(text, str(path))
    result = table._rows_to_result(header, numbered, str(path), False, header_row)
if sys.argv[2] == "pandas":
    rows = len(pandas.read_csv(path, dtype=str, keep_default_na=False))
else:
    rows = sum(len(a.measurements) for r in result.records for a in r.assessments)
done = time.perf_counter()
print(json.dumps({"rows": rows, "seconds": done - imported, "import": imported - start,
                  "peak_mb": high_water_mb()}))
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
    which = ["ours", "pandas"] + (["row-wise"] if "--row-wise" in sys.argv else [])
    runs = {name: run(name) for name in which}
    ours, pandas = runs["ours"], runs["pandas"]
    print(f"lesion table {TABLE} ({size:.0f} MB, {int(ours['rows'])} rows), fresh process each:")
    print(f"  napari-recist read_table (all checks, records): {ours['seconds']:.2f} s "
          f"(+ import {ours['import']:.2f} s), peak {ours['peak_mb']:.0f} MB")
    print(f"  pandas.read_csv (parse only, strings):          {pandas['seconds']:.2f} s "
          f"(+ import {pandas['import']:.2f} s), peak {pandas['peak_mb']:.0f} MB")
    if "row-wise" in runs:
        slow = runs["row-wise"]
        print(f"  row-wise reference reader (before issue 12):    {slow['seconds']:.2f} s, "
              f"peak {slow['peak_mb']:.0f} MB ({slow['seconds'] / ours['seconds']:.1f}x ours)")
    print(f"  ratio: {ours['seconds'] / pandas['seconds']:.2f}x the time, "
          f"{ours['peak_mb'] / pandas['peak_mb']:.2f}x the memory of pandas.read_csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
