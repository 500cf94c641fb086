"""Great Expectations, imported once per process with Xuncha's settings.

`orchestration.preload` imports it before Airflow forks task processes and sets `PRELOADED`;
`validation.Validator` imports it (a no-op where it was preloaded).
"""

from __future__ import annotations

import logging
import os

PRELOADED = False
"""True in a process where xuncha.orchestration.preload imported GX (and in every task process forked from it)."""


def import_gx():
    """The `great_expectations` module, imported with Xuncha's settings: no usage analytics (GX_ANALYTICS_ENABLED
    unless set), GX's own logging at WARNING. Used by the preload and by xuncha.validate.validation.Validator."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations

    return great_expectations
