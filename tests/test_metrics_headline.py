"""巡察工作情况 term headline (mart.term_headline) per unit and for the whole city, and `xuncha metrics --as-of`.

嵩县 410325: round R1 (2018-01-10) inspects O1 and O2; 3 findings; clues K1, K2; a sanction (100.00 recovered)
and an organisational handling. The city 410300: escalated round CR1 (2018-02-01) inspects 嵩县's O1 — an
organisation 嵩县 inspected too — and its own C1; 1 finding, clue CK1, a transfer to judiciary (50.00).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import query
from metrics_fixtures import clue, finding, insp, org, outcome, round_, shared_world

from xuncha import registry

COLUMNS = ("as_of", "scope", "county_code", "term_no", "county_name", "source_codes", "rounds", "orgs_inspected",
           "findings", "clues_transferred", "sanctions", "org_handling", "detentions", "judicial_transfers",
           "amount_recovered")
EVERY_CODE = sorted(c.code for c in registry.default().counties)


def build(w):
    w.night("410325", "2018-01-10", org_units=[org(f"410325-O{i}", at="2018-01-10") for i in (1, 2)],
            rounds=[round_("410325-R1", "2018-01-10")],
            inspections=[insp(f"410325-I{i}", "410325-R1", f"410325-O{i}", "2018-01-10") for i in (1, 2)])
    w.night("410325", "2018-01-20", findings=[finding(f, i, "2018-01-20") for f, i in
                                              (("F1", "410325-I1"), ("F2", "410325-I1"), ("F3", "410325-I2"))])
    w.night("410325", "2018-02-10", clues=[clue("K1", "410325-I1", "2018-02-10"), clue("K2", "410325-I2", "2018-02-10")])
    w.night("410325", "2018-05-01", case_outcomes=[outcome("D1", "K1", "sanction", "2018-05-01", amount="100.00"),
                                                   outcome("D2", "K2", "org_handling", "2018-05-01")])
    w.night("410300", "2018-02-01", org_units=[org("410300-C1", "dept", at="2018-02-01")],
            rounds=[round_("410300-CR1", "2018-02-01", "escalated")],
            inspections=[insp("410300-CI1", "410300-CR1", "410325-O1", "2018-02-01", owner="410325"),
                         insp("410300-CI2", "410300-CR1", "410300-C1", "2018-02-01")])
    w.night("410300", "2018-02-15", findings=[finding("CF1", "410300-CI1", "2018-02-15")])
    w.night("410300", "2018-03-01", clues=[clue("CK1", "410300-CI1", "2018-03-01")])
    w.night("410300", "2018-06-01", case_outcomes=[outcome("CD1", "CK1", "judicial_transfer", "2018-06-01", amount="50")])
    # a night with nothing to report (no file): 2018-12-31 is loaded, so `xuncha metrics --as-of 2018-12-31` computes
    # it (a day after the newest loaded night is refused: its figures would claim the unloaded nights were empty)
    w.night("410300", "2018-12-31")


loaded, world = shared_world(build)


def test_headline_per_unit_and_for_the_whole_city_counts_an_organisation_once(world):
    world.refresh("2018-01-31", "2018-12-31")
    assert world.columns("term_headline") == COLUMNS
    assert world.mart("term_headline") == [
        ("2018-01-31", "city_total", "410300", 11, "全市", EVERY_CODE, 1, 2, 3, 0, 0, 0, 0, 0, "0.00"),
        ("2018-01-31", "unit", "410325", 11, "嵩县", ["410325"], 1, 2, 3, 0, 0, 0, 0, 0, "0.00"),
        # O1, inspected by 嵩县 and by the city, is one of the city's 3 organisations inspected
        ("2018-12-31", "city_total", "410300", 11, "全市", EVERY_CODE, 2, 3, 4, 3, 1, 1, 0, 1, "150.00"),
        ("2018-12-31", "unit", "410300", 11, "洛阳市", ["410300"], 1, 2, 1, 1, 0, 0, 0, 1, "50.00"),
        ("2018-12-31", "unit", "410325", 11, "嵩县", ["410325"], 1, 2, 3, 2, 1, 1, 0, 0, "100.00"),
    ]


def test_a_county_refresh_rewrites_that_day_of_its_rows_and_of_the_whole_city_only(world):
    world.refresh("2018-01-31", "2018-12-31")
    before = world.mart("term_headline")
    query(world.url, "UPDATE mart.term_headline SET refreshed_at = '2000-01-01'")
    world.refresh("2018-01-31", counties=["410325"])
    assert world.mart("term_headline") == before
    redone = query(world.url, """SELECT as_of::text, scope, county_code FROM mart.term_headline
                                  WHERE refreshed_at > '2000-01-01' ORDER BY 1, 2, 3""")
    assert redone == [("2018-01-31", "city_total", "410300"), ("2018-01-31", "unit", "410325")]


def test_xuncha_metrics_prints_the_headline_from_the_marts(world):
    xuncha = str(Path(sys.executable).with_name("xuncha"))
    r = subprocess.run([xuncha, "metrics", "--as-of", "2018-12-31"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = [" ".join(line.replace("│", " ").replace("┃", " ").split()) for line in r.stdout.splitlines()]
    assert "巡察工作情况 第11届 — term 11 headline as of 2018-12-31 (end of day, Asia/Shanghai)" in lines
    assert "县区 巡察轮次 被巡察单位 发现问题 移交问题线索 党纪政务处分 组织处理 留置 移送司法机关 收缴/挽回（元）" in lines
    assert "county rounds orgs inspected findings clues transferred sanctions org. handling detentions to judiciary recovered, CNY" in lines
    assert "洛阳市 410300 1 2 1 1 0 0 0 1 50.00" in lines
    assert "嵩县 410325 1 2 3 2 1 1 0 0 100.00" in lines
    assert "全市 whole city 2 3 4 3 1 1 0 1 150.00" in lines
    # the printed figures are the stored ones
    assert world.mart("term_headline", "2018-12-31", scope="city_total")[0][6:] == (2, 3, 4, 3, 1, 1, 0, 1, "150.00")


def test_xuncha_metrics_before_any_data_says_so(world):
    xuncha = str(Path(sys.executable).with_name("xuncha"))
    r = subprocess.run([xuncha, "metrics", "--as-of", "2017-12-31", "--no-refresh"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "no figures as of 2017-12-31" in r.stdout
    assert world.mart("term_headline") == []
