"""The marts against the generator's truth: a generated profile through `xuncha ingest`, then the term headline.

`tiny` (a few hundred rows around the 2021 code change, every generator fault included) is checked by
tests/test_faults.py on the world it loads once for all its tests. `seed` (Luoyang's 11th term: 30,828
exports, about 16 minutes) is marked `seed` (`make test-seed`): it must reproduce the seed's published figures exactly.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TABLES_TO_RESET, query

from xuncha.metrics import marts as metrics
from xuncha_sim.generator import generate
from xuncha.spec import ENTITY_ORDER

XUNCHA = str(Path(sys.executable).with_name("xuncha"))
FIGURES = ("rounds", "orgs_inspected", "findings", "clues_transferred", "sanctions", "org_handling", "detentions",
           "judicial_transfers", "amount_recovered")


def ingest_profile(url: str, out: Path, profile: str) -> dict:
    """An empty warehouse, the profile generated into `out`, every export ingested by the CLI; returns truth.json."""
    tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
    marts = [r[0] for r in query(url, "SELECT format('mart.%I', tablename) FROM pg_tables WHERE schemaname = 'mart'")]
    query(url, f"TRUNCATE {', '.join(tables + marts)}, {TABLES_TO_RESET}")
    truth = generate(out, profile=profile, progress=False)
    r = subprocess.run([XUNCHA, "ingest", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == f"{len(list(out.rglob('manifest.json')))} loaded"
    return truth


def headline(url: str, day: dt.date, term_no: int) -> dict:
    """mart.term_headline for a day and term, shaped like truth.json's headline ("total" = the whole city)."""
    return {("total" if r["scope"] == "city_total" else r["county_code"]):
            {k: f"{r[k]:.2f}" if k == "amount_recovered" else r[k] for k in FIGURES}
            for r in metrics.headline(url, as_of=day, term_no=term_no)}


def check(url: str, truth: dict) -> dict:
    end = dt.date.fromisoformat(truth["term"]["end"])
    metrics.refresh(url, as_of=end)
    got = headline(url, end, truth["term"]["term_no"])
    assert got == truth["headline"]
    cal = truth["calibration"]
    sat = query(url, "SELECT sum(respondents), sum(satisfied) FROM mart.satisfaction WHERE as_of = %s", (end,))
    assert sat == [(cal["satisfaction"]["respondents"], cal["satisfaction"]["satisfied"])]
    county_rounds = [v["rounds"] for k, v in got.items() if k not in ("total", "410300")]
    assert sum(county_rounds) == cal["county_rounds"]["total"] and len(county_rounds) == cal["county_rounds"]["counties"]
    return got


@pytest.mark.seed
@pytest.mark.timeout(4 * 3600)
def test_the_seed_profile_reproduces_the_published_figures(warehouse, tmp_path):
    truth = ingest_profile(warehouse, tmp_path / "seed", "seed")
    got = check(warehouse, truth)
    city, total = got["410300"], got["total"]
    assert (total["clues_transferred"], total["sanctions"], total["judicial_transfers"], total["amount_recovered"]) == (
        3_914, 1_389, 70, "267000000.00")
    assert (city["sanctions"], city["org_handling"], city["judicial_transfers"]) == (224, 335, 22)
    assert (city["rounds"], city["orgs_inspected"]) == (11, 80)
    assert 25_000 <= total["findings"] <= 26_000
    assert sum(v["rounds"] for k, v in got.items() if k not in ("total", "410300")) / 15 >= 12
    # 村、社区 全覆盖 by the end of 2020, in every county
    metrics.refresh(warehouse, as_of=dt.date(2020, 12, 31))
    village = query(warehouse, """SELECT bool_and(full_coverage), sum(orgs_in_scope), sum(orgs_covered) FROM mart.coverage
                                   WHERE as_of = '2020-12-31' AND org_type IN ('village', 'community')""")
    assert village[0][0] is True and village[0][1] == village[0][2] > 3_000
