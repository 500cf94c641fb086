"""Issue 28 on the generator's tiny world: a county's night that arrives after a later day was computed.

Every export of the `tiny` profile is loaded (each county's nights oldest first, as a county DAG's ingest task takes
them) except 西工区 410303's night of 2021-04-09; the marts are refreshed, so 2021-04-10 (the term's last night) is
computed; then the late night loads. The issue saw, on its tiny world, the incremental refresh compute only
2021-04-09 while 2021-04-10 kept its old rows (rounds_per_year 4 against a full recompute's 5, coverage 10 of 10
against 11 of 11, the whole city 22 rounds / 275 findings against 23 / 305). Those figures came from a world this
generator does not make with any seed (its tiny term ends at 20 rounds for the city); here the same case is checked
on the generator's world: the late night changes 2021-04-10, `ensure` (the `--no-refresh` reader) recomputes it
before the marts run, the refresh that takes the night in recomputes it, and every mart equals a full recompute.
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

from marts_compare import differences

pytestmark = pytest.mark.slow   # the whole tiny world through the pipeline (make test-e2e, in CI)

LATE = "410303-20210409-01"
DAY = dt.date(2021, 4, 10)


def figures(url):
    """What 410303's late night can move on DAY: its rounds of 2021, its coverage, the headline of 410303 and of the
    whole city (term 11: rounds, organisations, findings, clues, the four outcome counts, the amount), its outcomes
    and its rectification completion."""
    day = {"day": DAY}
    return [query(url, sql, day) for sql in (
        "SELECT rounds FROM mart.rounds_per_year WHERE as_of = %(day)s AND county_code = '410303' AND year = 2021",
        """SELECT orgs_covered, orgs_in_scope FROM mart.coverage WHERE as_of = %(day)s AND county_code = '410303'
              AND term_no = 11 AND org_type = 'all'""",
        """SELECT scope, rounds, orgs_inspected, findings, clues_transferred, sanctions, org_handling, detentions,
                  judicial_transfers, amount_recovered FROM mart.term_headline
            WHERE as_of = %(day)s AND term_no = 11 AND (scope = 'city_total' OR county_code = '410303') ORDER BY 1""",
        """SELECT term_no, year, outcome_type, person_rank, outcomes, amount_recovered FROM mart.outcomes
            WHERE as_of = %(day)s AND county_code = '410303' ORDER BY 1, 2, 3, 4""",
        """SELECT tasks_due, tasks_completed FROM mart.rectification WHERE as_of = %(day)s AND county_code = '410303'
            ORDER BY term_no""")]


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
    before = figures(warehouse)

    [late] = county_night.run(reg, "410303", None, url=warehouse, exports=[inbox.receive(out / "410303" / LATE)],
                              ingestor=ingestor).exports
    assert late.status == "loaded"
    assert figures(warehouse) == before         # the logged day as stored: what a reader must not be served
    metrics.ensure(warehouse, DAY)             # a reader before the marts run: the day is recomputed, not served stale
    read_early = figures(warehouse)
    query(warehouse, "UPDATE mart.term_headline SET refreshed_at = '2000-01-01'")
    metrics.refresh(warehouse, ["410303"])     # the marts run the load's event triggers: the night and every later day
    assert query(warehouse, """SELECT DISTINCT as_of FROM mart.term_headline WHERE refreshed_at > '2000-01-01'
                                AND county_code = '410303' ORDER BY 1""") == [(DAY - dt.timedelta(days=1),), (DAY,)]
    after = figures(warehouse)
    assert differences(warehouse) == []        # every mart as a full recompute, the lists kept as made afresh
    assert read_early == after == figures(warehouse) != before
