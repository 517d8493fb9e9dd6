"""Pause Python's cyclic garbage collector while building many small acyclic objects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, then restore its previous state.

    Reading a lesion table or classifying a cohort creates many small objects and no reference
    cycles; the collector's repeated passes over them cost a third to a half of the time.
    Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
