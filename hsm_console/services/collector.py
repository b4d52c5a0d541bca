"""Python's cycle collector paused around bulk reads of rows."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while rows are read in bulk: they hold no cycles and
    are freed as each batch is done, while the collector's passes (set off by a batch's
    thousands of new tuples, dicts and lists, each pass over every young one) cost a quarter
    of verification's client on PostgreSQL and a third of a records package. Another thread's
    pause is left as it is."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
