"""A county's night judged (the verdict the county DAG fails on, the run note) and the whole night's states
(xuncha_night), on real loads into the suite's PostgreSQL; without Airflow runs (those are in test_county_runs.py)."""

from __future__ import annotations

import datetime as dt

from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.extract import deadlines
from xuncha.load import county_night
from xuncha.orchestration import nightly

NIGHT = dt.date(2019, 3, 16)


def result(code: str, day: dt.date, url: str, status: str = "arrived") -> dict:
    """What the county DAG's `ingest` task returns for county `code`'s night `day` (its XCom)."""
    return {"status": status, "summary": county_night.run(registry.default(), code, day, url=url).to_xcom()}


def test_a_quarantined_export_makes_the_verdict_red_with_the_reason_first_and_the_report_linked(clean, settings):
    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "XX"
    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", bad)
    v = nightly.county_verdict("宜阳县 410327", result("410327", NIGHT, clean))
    [(batch_id,)] = query(clean, "SELECT batch_id FROM audit.batches WHERE status = 'quarantined'")
    assert v.red and v.reason.startswith("宜阳县 410327: export 410327-20190316-01 (night 2019-03-16) quarantined: ")
    assert "findings.csv" in v.reason and "category" in v.reason, v.reason
    assert v.link == f"/xuncha/quarantine/{batch_id}"
    assert (v.loaded, v.quarantined, v.nights) == (0, 1, ("2019-03-16",))


def test_a_catch_up_run_is_noted_with_every_night_it_took_in(clean, settings):
    from xuncha.orchestration.run_notes import county_note

    for day in ("2019-03-14", "2019-03-15", "2019-03-16"):
        write_export(settings.landing, "410326", f"410326-{day.replace('-', '')}-01", day,
                     slice_rows("410326", updated=f"{day}T20:00:00+08:00"))
    v = nightly.county_verdict("汝阳县 410326", result("410326", NIGHT, clean))
    assert not v.red and v.link is None
    assert county_note(v) == "night 2019-03-16: took in 3 night(s) 2019-03-14 … 2019-03-16, 3 export(s) loaded"
    again = nightly.county_verdict("汝阳县 410326", result("410326", NIGHT, clean))
    assert county_note(again, "re-sent 重报") == "re-sent 重报 — night 2019-03-16: nothing waiting, nothing loaded"


def test_a_missed_night_is_red_and_its_earlier_waiting_night_still_loads(clean, settings):
    write_export(settings.landing, "410329", "410329-20190315-01", "2019-03-15", slice_rows("410329"))
    v = nightly.county_verdict("伊川县 410329", result("410329", NIGHT, clean, status="missed"))
    assert v.red and v.reason == "伊川县 410329: no export for the night of 2019-03-16 by the deadline (迟报/漏报)"
    assert v.link is None, "nothing quarantined: no quarantine page to link"
    assert v.loaded == 1 and v.nights == ("2019-03-15",)


def test_the_night_names_every_countys_state_from_the_warehouse(clean, settings, monkeypatch):
    monkeypatch.setenv("XUNCHA_GO_LIVE", "2019-03-10")
    reg = registry.default()
    write_export(settings.landing, "410326", "410326-20190316-01", "2019-03-16", slice_rows("410326"))
    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "XX"
    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", bad)
    for code in ("410326", "410327"):
        county_night.run(reg, code, NIGHT, url=clean)
    deadlines.record_miss(clean, reg.get("410305"), NIGHT)                 # late: missed, then sent and loaded
    write_export(settings.landing, "410305", "410305-20190316-01", "2019-03-16", slice_rows("410305"))
    county_night.run(reg, "410305", NIGHT, url=clean)
    before_deadline = dt.datetime(2019, 3, 17, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    after = before_deadline + dt.timedelta(hours=2)

    states = {c: s["state"] for c, s in nightly.night_states(NIGHT, clean, reg, now=after).items()}
    assert states["410326"] == "loaded" and states["410327"] == "quarantined" and states["410305"] == "late"
    assert states["410329"] == "missing", "nothing by the deadline is 漏报 even if its DAG never ran (paused)"
    assert "410307" not in states, "偃师区 exports from 2021 only"
    assert nightly.night_states(NIGHT, clean, reg, now=before_deadline)["410329"]["state"] == "waiting"
    assert {s["state"] for s in nightly.night_states(dt.date(2019, 3, 1), clean, reg).values()} == {"history"}
    text = nightly.night_text(NIGHT, nightly.night_states(NIGHT, clean, reg, now=after))
    assert text.startswith("night 2019-03-16 — quarantined 隔离 (1): 宜阳县 410327; missing 漏报 (")
    assert "late 迟报 (1): 涧西区 410305" in text and "汝阳县 410326" in text


def test_the_night_dag_runs_half_an_hour_after_the_latest_deadline_in_any_time_zone():
    reg = registry.parse({"counties": [
        {"code": "410325", "name": "嵩县", "level": "county", "timezone": "Asia/Shanghai", "deadline": "06:00",
         "delivery": {"landing": "default"}, "active_from": "2016-10-01"},
        {"code": "410326", "name": "汝阳县", "level": "county", "timezone": "Asia/Urumqi", "deadline": "06:00",
         "delivery": {"landing": "default"}, "active_from": "2016-10-01"}]})
    assert nightly.night_schedule(reg) == "30 8 * * *", "06:00 in Urumqi (UTC+6) is 08:00 in Shanghai"
