"""Regenerate the README images of the tumour-board and cohort views, through the command line.

    .venv/bin/python scripts/make_readme_images.py

1. The tumour board: ``napari-recist report`` on the sample patient (``sample_dicom/``, or a
   freshly generated sample when the folder is absent); the page is rendered with headless
   Chromium to ``docs/images/tumour_board.png`` and its spider / trajectory plot is copied to
   ``docs/images/patient_trajectory.png``.
2. The cohort: a synthetic cohort of 120 patients (``napari_recist.cohort.synthetic``, not real
   data) is written as a lesion table and a clinical table, and ``napari-recist cohort`` makes
   the waterfall, spider, swimmer and Kaplan-Meier plots, copied to ``docs/images/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
CLI = [sys.executable, "-m", "napari_recist.cli"]

sys.path.insert(0, str(ROOT / "tests" / "cli"))
from chromium import screenshot  # noqa: E402  (the helper the rendering test uses)

COHORT_IMAGES = {
    "waterfall.png": "cohort_waterfall.png",
    "spider.png": "cohort_spider.png",
    "swimmer.png": "cohort_swimmer.png",
    "km_os_by_category_pspd.png": "cohort_km_os_by_category.png",
    "km_pfs_by_response_group.png": "cohort_km_pfs_by_group.png",
}


def _sample_patient(workdir: Path) -> Path:
    sample = ROOT / "sample_dicom"
    if sample.is_dir():
        return sample
    folder = workdir / "sample"
    subprocess.run([*CLI, "sample", str(folder)], check=True)
    return folder


def tumour_board(workdir: Path) -> None:
    """Report on the sample patient, rendered in Chromium."""
    out = workdir / "report"
    subprocess.run([*CLI, "report", str(_sample_patient(workdir)), "--out", str(out)],
                   check=True)
    (page,) = out.glob("*.html")
    screenshot(page, IMAGES / "tumour_board.png", width=1280, height=2300)
    shutil.copyfile(page.with_suffix(".png"), IMAGES / "patient_trajectory.png")


def cohort(workdir: Path) -> None:
    """Cohort report on a synthetic cohort; copy its plots."""
    from napari_recist.cohort.synthetic import clinical_csv, synthetic_cohort
    from napari_recist.io.table import write_table

    records, clinical = synthetic_cohort(120, seed=21)
    table, clinical_file = workdir / "lesions.csv", workdir / "clinical.csv"
    write_table(records, table)
    clinical_file.write_text(clinical_csv(clinical), encoding="utf-8")
    out = workdir / "cohort"
    subprocess.run([*CLI, "cohort", str(table), "--clinical", str(clinical_file), "--out",
                    str(out), "--quiet"], check=True)
    for source, target in COHORT_IMAGES.items():
        shutil.copyfile(out / source, IMAGES / target)


def main() -> int:
    """Write every image under docs/images/."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="readme-images-") as temporary:
        workdir = Path(temporary)
        tumour_board(workdir)
        cohort(workdir)
    for name in ("tumour_board.png", "patient_trajectory.png", *COHORT_IMAGES.values()):
        print(IMAGES / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
