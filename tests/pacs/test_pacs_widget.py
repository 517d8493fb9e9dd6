"""The PACS dock widget and the Export widget's "Send SRs to PACS", under Xvfb, against the
same real Orthanc: search, tick studies, retrieve with napari's progress bar, open, send."""

from __future__ import annotations

import pydicom
import pytest
from _orthanc import SAMPLE_PATIENT

pytestmark = pytest.mark.viewer


def test_search_retrieve_open_and_send_srs(make_napari_viewer, qtbot, saved, orthanc, tmp_path,
                                           monkeypatch):
    from napari.layers import Image
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QInputDialog

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-recist", "PACS")
    assert list(widget.server.choices) == ["dimse", "move", "web"]
    widget.server.value = "web"
    widget.patient_id.value = SAMPLE_PATIENT
    widget.search_button.native.click()
    qtbot.waitUntil(lambda: widget.table.rowCount() == 3, timeout=15000)
    dates = [widget.table.item(row, 1).text() for row in range(3)]
    assert dates == ["2024-01-15", "2024-03-11", "2024-05-06"]
    assert [widget.table.item(row, 5).text() for row in range(3)] == ["SR", "SR", "SR"]
    assert "3 studies of NRS-SAMPLE-001 (3 with an SR)" in widget.status.text()

    # Baseline and week 16 only.
    widget.table.item(1, 0).setCheckState(Qt.Unchecked)
    assert len(widget.ticked_studies()) == 2
    widget.retrieve_button.native.click()
    qtbot.waitUntil(lambda: widget.retrieve_outcome is not None, timeout=30000)
    assert widget.retrieve_outcome[0], widget.status.text()
    qtbot.waitUntil(lambda: len(viewer.layers) >= 4, timeout=30000)
    result = widget.last_result
    assert (result.fetched, result.already, result.problems) == (122, 0, [])
    assert widget.progress_seen[0] == (0, 122) and widget.progress_seen[-1] == (122, 122)
    assert widget.progress_bar is None  # closed when the worker finished
    assert widget.progress_final == (122, 122)  # napari's bar reached the end
    images = [layer for layer in viewer.layers if isinstance(layer, Image)]
    assert len(images) == 2
    assert any("2024-01-15" in layer.name for layer in images)
    assert any("2024-05-06" in layer.name for layer in images)
    assert result.folder.parent.parent.name == "pacs"  # the user cache, per server

    # Export widget: write the SRs, then send exactly those files to the PACS.
    _, export = viewer.window.add_plugin_dock_widget("napari-recist", "Export")
    written = export.export_sr(tmp_path / "sr")
    assert written
    monkeypatch.setattr(QInputDialog, "getItem", lambda *args, **kwargs: ("dimse", True))
    stored = []
    try:
        export._send_to_pacs()
        assert f"{len(written)} SR(s) stored on PACS dimse" in export.status.text()
        for path in written:
            uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
            found = orthanc.rest("POST", "/tools/lookup", uid.encode())
            assert len(found) == 1
            stored.append(found[0]["ID"])
    finally:
        for identifier in stored:
            orthanc.rest("DELETE", f"/instances/{identifier}")


def test_failures_are_shown_not_raised(make_napari_viewer, qtbot, saved, silent_port,
                                       monkeypatch):
    from dataclasses import replace

    from napari_recist._napari.widgets import pacs
    from napari_recist._napari.widgets.pacs import PacsWidget

    original = pacs.server_from_choice
    # The form has no timeout field; the hung server would take the default 30 s.
    monkeypatch.setattr(pacs, "server_from_choice",
                        lambda *args: replace(original(*args), timeout=0.5))

    viewer = make_napari_viewer()
    widget = PacsWidget(viewer)
    widget.retrieve_button.native.click()
    assert "Search a patient" in widget.status.text()
    widget.url.value = f"dimse://ORTHANC@127.0.0.1:{silent_port}"
    widget.patient_id.value = "P1"
    widget.date_from.value = "not a date"
    widget.search_button.native.click()
    assert "'not a date' is not a date" in widget.status.text()
    widget.date_from.value = ""
    widget.calling_aet.value = "RECIST"
    widget.search_button.native.click()
    qtbot.waitUntil(lambda: "Search failed" in widget.status.text(), timeout=15000)
    assert "within 0.5 s" in widget.status.text()

