"""`xuncha counties` and the page 事件与县区状态 say the same thing of each county (xuncha.monitor.board, one
definition): a county whose last night is past is `ended → successor`, not stale; staleness is judged against the
expected night, and a warehouse years behind today (the demo's 2017 nights) is said once in the header, on real
PostgreSQL with a real load."""

from __future__ import annotations

import datetime as dt
import re

from exports import slice_rows, write_export
from typer.testing import CliRunner

from xuncha import registry
from xuncha.cli import app
from xuncha.load import county_night
from xuncha.monitor import board, nights
from xuncha.monitor.findings import expected_night

NIGHT = dt.date(2019, 3, 16)


def test_ended_counties_show_their_successor_and_a_warehouse_behind_today_is_said_in_the_header(clean, settings):
    write_export(settings.landing, "410326", "410326-20190316-01", "2019-03-16", slice_rows("410326"))
    county_night.run(registry.default(), "410326", NIGHT, url=clean)
    now = dt.datetime.now(dt.timezone.utc)
    behind = (expected_night(now) - NIGHT).days

    out = CliRunner().invoke(app, ["counties"])
    assert out.exit_code == 0, out.output
    text = re.sub(r"\s+", " ", out.output)
    assert text.startswith(f"newest night in the warehouse: 2019-03-16, {behind} nights behind today "
                           f"(expected night {expected_night(now)})"), text[:300]
    rows = {line.split("│")[1].strip(): line for line in out.output.splitlines() if line.count("│") > 5}
    assert "ended → 偃师区 410307" in rows["410381"] and "stale" not in rows["410381"], rows["410381"]
    assert "ended → 孟津区 410308" in rows["410306"] and "ended → 孟津区 410308" in rows["410322"]
    assert "stale" in rows["410326"] and "2019-03-16" in rows["410326"]

    # The page shows each active county's state with the same words (and the same header line).
    reg = registry.default()
    states = board.county_states(clean, reg, now)
    lag = board.lag_line(nights.newest_night(clean), now)
    page = board.render([], states, can_act=False, user="viewer", channels_off=None, now=now, lag=lag)
    assert f"<p class='banner' id='warehouse-lag'>newest night in the warehouse: 2019-03-16, {behind} nights" in page
    for s in states:
        word = board.condition(s, now)
        assert re.search(rf"<tr id='county-{s['code']}'>.*?<td class='state'>{re.escape(word)}</td></tr>", page), s["code"]
        assert word in rows[s["code"]], (s["code"], word)
    assert "410381" not in {s["code"] for s in states}, "the page lists the active counties only"


def test_staleness_is_judged_against_the_expected_night_and_no_header_when_the_warehouse_is_current(clean, settings):
    write_export(settings.landing, "410326", "410326-20190316-01", "2019-03-16", slice_rows("410326"))
    county_night.run(registry.default(), "410326", NIGHT, url=clean)
    reg = registry.default()
    morning = dt.datetime(2019, 3, 17, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))   # expected night: the 16th
    by_code = {s["code"]: s for s in board.county_states(clean, reg, morning, include_ended=True)}
    assert board.condition(by_code["410326"], morning) == "ok"
    assert board.condition(by_code["410327"], morning) == "stale", "never loaded"
    assert "410381" in by_code and board.condition(by_code["410381"], morning) == "stale", "still active in 2019"
    assert board.lag_line(NIGHT, morning) is None
    three_days_on = morning + dt.timedelta(days=3)
    assert board.condition(by_code["410326"], three_days_on) == "stale"
    assert board.lag_line(NIGHT, three_days_on).startswith("newest night in the warehouse: 2019-03-16, 3 nights behind")
