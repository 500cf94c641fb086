"""The short soak in `make test` (tests/soak.py): the first 3 nights of the tiny profile's systems, every generator fault kind
that fits in them, kills and PostgreSQL restarts injected, ending equal to the ground truth, the marts equal to a full recompute,
every quarantine seen by the morning's health run and no incident open. The full run
(30 nights × every unit of the seed profile) is `make soak`; its last summary is in docs/reliability.md."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_a_short_soak_ends_equal_to_the_ground_truth(warehouse, settings, tmp_path):
    from conftest import TABLES_TO_RESET

    from xuncha.spec import ENTITY_ORDER
    from soak import run

    tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
    from conftest import query

    # the marts too (the series, its log and watermarks): what an earlier test computed is not the soak's to compare
    tables += [r[0] for r in query(warehouse, "SELECT format('mart.%I', tablename) FROM pg_tables WHERE schemaname = 'mart'")]
    query(warehouse, f"TRUNCATE {', '.join(tables)}, {TABLES_TO_RESET}")
    summary = run(tmp_path, profile="tiny", nights=3, seed=3, kill_rate=0.2, restart_rate=0.1, progress=lambda m: None,
                  generated_only=True)
    print(json.dumps(summary, ensure_ascii=False))
    assert summary["equal_to_truth"], summary
    assert summary["marts_differences"] == [], "the incremental marts are not what a full recompute gives"
    assert summary["incidents"]["quarantined_without_incident"] == [], "a quarantine reached no incident"
    assert summary["incidents"]["open_at_end"] == [], "an incident stayed open after every fault was corrected"
    assert summary["text_columns_scanned"] > 20 and summary["person_data_in_clear"] == {}
    assert summary["kills"] + summary["restarts"] >= 1, "the run injected no process fault"
    assert summary["generator_faults"], "the run injected no generator fault"
