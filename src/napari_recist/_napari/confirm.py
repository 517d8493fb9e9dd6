"""The one question the viewer asks before an edit replaces a measurement.

A modal Yes/No box; No (the default) keeps what is there. Tests answer it with real key
events on the box (`QApplication.activeModalWidget`).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QMessageBox

TITLE = "Replace a measurement?"


def ask_to_replace(parent: Any, what: str) -> bool:
    """Ask whether to replace a measurement; True only when the reader says Yes."""
    box = QMessageBox(parent)
    box.setWindowTitle(TITLE)
    box.setIcon(QMessageBox.Icon.Question)
    box.setText(what)
    box.setInformativeText("Replace it?")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes
