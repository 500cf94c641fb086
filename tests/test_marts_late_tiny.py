"""Issue 28 on the generator's tiny world: a county's night that arrives after a later day was computed.

Every export of the `tiny` profile is loaded (each county's nights oldest first, as the nightly ingest task takes
them) except 西工区 410303's night of 2021-04-09; the marts are refreshed, so 2021-04-10 is computed; then the late
night loads. Before the fix the incremental refresh computed only 2021-04-09 and 2021-04-10 kept its old rows:
rounds_per_year 4 (a full recompute: 5), coverage 10 of 10 organisations (11 of 11), the whole city 22 rounds /
275 findings (23 / 305). Now the refresh that takes the night in recomputes 2021-04-10 too, `ensure` (the
`--no-refresh` reader) recomputes it before that refresh, and every mart equals a full recompute.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import TABLES_TO_RESET, query

from xuncha import registry
from xuncha.extract import inbox
from xuncha.load import county_night, pipeline
from xuncha.metrics import marts as metrics
from xuncha.spec import ENTITY_ORDER
from xuncha_sim.generator import generate

from test_marts_late import DATED, snapshot

pytestmark = pytest.mark.slow   # the whole tiny world through the pipeline (make test-e2e, in CI)

LATE = "410303-20210409-01"
DAY = dt.date(2021, 4, 10)


def figures(url):
    """(rounds of 2021, coverage of 410303 (covered, in scope), the city's term 11 (rounds, findings)) on DAY."""
    rounds = query(url, "SELECT rounds FROM mart.rounds_per_year WHERE as_of = %s AND county_code = '410303' "
                        "AND year = 2021", (DAY,))
    cover = query(url, "SELECT orgs_covered, orgs_in_scope FROM mart.coverage WHERE as_of = %s "
                       "AND county_code = '410303' AND term_no = 11 AND org_type = 'all'", (DAY,))
    city = query(url, "SELECT rounds, findings FROM mart.term_headline WHERE as_of = %s AND scope = 'city_total' "
                      "AND term_no = 11", (DAY,))
    return rounds, cover, city


def test_a_late_night_of_the_tiny_world_changes_the_later_computed_day_as_a_full_recompute_does(warehouse, tmp_path):
    out = tmp_path / "tiny"
    generate(out, profile="tiny", progress=False)
    marts = [r[0] for r in query(warehouse, "SELECT format('mart.%I', tablename) FROM pg_tables WHERE schemaname = 'mart'")]
    query(warehouse, f"TRUNCATE {', '.join([f'{s}.{e}' for s in ('core', 'history') for e in ENTITY_ORDER] + marts)}, "
                     f"{TABLES_TO_RESET}")
    reg = registry.load()
    ingestor = pipeline.Ingestor(reg, url=warehouse, move=False)
    units = sorted((p for p in out.iterdir() if p.is_dir()), key=lambda p: (len(reg.lineage(p.name)), p.name))
    for unit in units:
        exports = [a for a in inbox.find(unit) if a.path.name != LATE]
        night = county_night.run(reg, unit.name, None, url=warehouse, exports=exports, ingestor=ingestor)
        assert all(r.status == "loaded" for r in night.exports), [r.problems for r in night.exports if r.problems]
    metrics.refresh(warehouse)
    assert figures(warehouse) == ([(4,)], [(10, 10)], [(22, 275)])   # the "before"

    [late] = county_night.run(reg, "410303", None, url=warehouse, exports=[inbox.receive(out / "410303" / LATE)],
                              ingestor=ingestor).exports
    assert late.status == "loaded"
    metrics.ensure(warehouse, DAY)             # a reader before the marts run: the day is recomputed, not served stale
    assert figures(warehouse) == ([(5,)], [(11, 11)], [(23, 305)])
    metrics.refresh(warehouse, ["410303"])     # the marts run the load's event triggers
    assert figures(warehouse) == ([(5,)], [(11, 11)], [(23, 305)])
    incremental = snapshot(warehouse)
    metrics.refresh(warehouse, full=True)
    full = snapshot(warehouse)
    for table in DATED:
        assert incremental[table] == full[table], table
