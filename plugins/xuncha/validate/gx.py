"""Great Expectations, imported once per process with Xuncha's settings.

`orchestration.preload` imports it before Airflow forks task processes and sets `PRELOADED`;
`validation.Validator` imports it (a no-op where it was preloaded).
"""

from __future__ import annotations

import gc
import logging
import os
import sys

PRELOADED = False
"""True in a process where xuncha.orchestration.preload imported GX (and in every task process forked from it)."""


def import_gx():
    """The `great_expectations` module, imported with Xuncha's settings: no usage analytics (GX_ANALYTICS_ENABLED
    unless set), GX's own logging at WARNING. Used by the preload and by xuncha.validate.validation.Validator.

    The first import runs with Python's cyclic garbage collector paused, then collects once and freezes the heap
    (`gc.freeze`: every object alive then moves to the permanent generation, which later collections skip). GX's
    import allocates about 400,000 tracked objects; with the collector on it walks them again and again while they are
    being made (four full collections, about 0.7 s of the import's CPU on this machine), and at the process's end
    it walks them once more. Nothing unreachable is frozen (the one collection runs first), and what is made after
    the import is collected as usual. Issue 26, P5: docs/performance.md, "third round". In a process that forks
    (orchestration.preload) the frozen heap is also what the Python docs advise before `fork()`: the children do not
    touch those pages when they collect."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    enabled = gc.isenabled()
    gc.disable()
    try:
        import great_expectations
    finally:
        gc.collect()
        gc.freeze()
        if enabled:
            gc.enable()
    return great_expectations
