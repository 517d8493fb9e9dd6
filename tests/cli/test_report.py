"""`napari-recist report`: tumour-board page from a patient folder (key images) or a table."""

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_recist.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sr_samples import write_patient  # noqa: E402
from chromium import screenshot  # noqa: E402


@pytest.fixture(scope="module")
def patient_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("patient")
    write_patient(root)
    return root


def test_report_from_dicom_has_key_images_and_renders_in_chromium(
    patient_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert main(["report", str(patient_folder), "--out", str(out)]) == 0
    page = out / "P1.html"
    text = page.read_text(encoding="utf-8")
    assert "Key images" in text and "Verdicts" in text and "Response per time point" in text
    # L1 is measured with both axes at both time points: two key images, plus the plot.
    assert text.count("data:image/png;base64,") >= 3
    assert "mm, baseline" in text
    assert not re.search(r"(src|href)=\"(https?:|//)", text)
    png = screenshot(page, tmp_path / "shot.png", 1200, 1600)
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[:2] == (1600, 1200)
    grey = pixels.mean(axis=2)
    assert (grey < 128).mean() > 0.01  # text and images drawn, not a blank page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # colour badges and CT greys


def test_report_from_table_says_there_are_no_images(tmp_path: Path) -> None:
    from napari_recist.cohort.synthetic import synthetic_cohort
    from napari_recist.io.table import write_table

    records, _ = synthetic_cohort(3, seed=2)
    table = tmp_path / "lesions.csv"
    write_table(records, table)
    out = tmp_path / "out"
    assert main(["report", str(table), "--out", str(out), "--patient", "SYN0002"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["SYN0002.html", "SYN0002.png"]
    text = (out / "SYN0002.html").read_text(encoding="utf-8")
    assert "made from a lesion table: it has no CT images" in text
    assert text.count("data:image/png;base64,") == 1  # the spider / trajectory plot
    assert main(["report", str(table), "--out", str(tmp_path / "all")]) == 0
    assert len(list((tmp_path / "all").glob("*.html"))) == 3
    png = screenshot(out / "SYN0002.html", tmp_path / "shot.png", 1000, 1000)
    assert np.asarray(Image.open(io.BytesIO(png.read_bytes())).convert("L")).std() > 10


def test_report_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,timepoint\nP1,x\n", encoding="utf-8")
    assert main(["report", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert f"error: {bad}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
