"""Run slow file work off the Qt main thread while napari waits for its result.

npe2 readers and sample commands must return their layers, so they cannot simply hand the
work to a background worker and return. `run_in_worker` runs the function in napari's
`thread_worker` (with a progress bar) and waits in a local Qt event loop, as a modal dialog
does: the window keeps repainting and showing progress instead of freezing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def run_in_worker(function: Callable[..., T], *args: Any, description: str) -> T:
    """Call ``function(*args)`` in a worker thread and return its result.

    Parameters
    ----------
    function
        Work that touches no Qt object (file reading, decoding).
    *args
        Its arguments.
    description
        Text of napari's progress bar.

    Returns
    -------
    object
        What the function returned.

    Raises
    ------
    Exception
        Whatever the function raised, re-raised in the calling thread.
    """
    from qtpy.QtWidgets import QApplication

    if QApplication.instance() is None:
        return function(*args)
    from napari.qt.threading import thread_worker
    from qtpy.QtCore import QEventLoop

    def guarded() -> tuple[bool, Any]:
        # An exception is handed back as a value: superqt would re-raise it inside the Qt
        # event loop, where nobody catches it, instead of in the caller.
        try:
            return True, function(*args)
        except Exception as error:  # re-raised in the calling thread below
            return False, error

    outcome: list[tuple[bool, Any]] = []
    worker = thread_worker(guarded, progress={"desc": description})()
    loop = QEventLoop()
    worker.returned.connect(outcome.append)
    worker.finished.connect(loop.quit)
    worker.start()
    loop.exec_()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value
