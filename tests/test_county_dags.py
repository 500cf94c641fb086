"""A county's night judged (the verdict the county DAG fails on, the run note) and the whole night's states
(xuncha_night), on real loads into the suite's PostgreSQL; without Airflow runs (those are in test_county_runs.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
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


def verdict_task(code: str, label: str, res: dict, night: str | None = NIGHT.isoformat()) -> dict:
    """The county DAG's `verdict` task (county_dags.CountyVerdictOperator) run on `res`, as Airflow runs it; a manual
    run's Param night `night` (None: a scheduled run, whose night is the one before its logical date)."""
    from xuncha.orchestration import county_dags

    op = county_dags.CountyVerdictOperator(task_id="verdict", county={"code": code, "label": label}, result=res)
    day = dt.date.fromisoformat(res["summary"]["business_date"]) + dt.timedelta(days=1)   # its run: the next midnight
    when = dt.datetime.combine(day, dt.time(0), dt.timezone(dt.timedelta(hours=8)))
    return op.execute({"params": {"night": night}, "dag_run": None, "logical_date": when})


def test_re_running_a_night_still_quarantined_is_red_reason_first_and_green_once_a_corrected_export_loaded(
        clean, settings):
    from airflow.sdk.exceptions import AirflowFailException

    from xuncha.orchestration.run_notes import county_note

    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "ZZ9"
    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", bad)
    first = result("410327", NIGHT, clean)
    with pytest.raises(AirflowFailException):
        verdict_task("410327", "宜阳县 410327", first)
    [(batch_id,)] = query(clean, "SELECT batch_id FROM audit.batches WHERE status = 'quarantined'")
    # README's re-run of the night (Param night): nothing waiting, but the night is still 隔离 in the warehouse
    rerun = result("410327", NIGHT, clean)
    assert rerun["summary"]["exports"] == [], "nothing waiting: the trial's green 'nothing loaded' run"
    with pytest.raises(AirflowFailException) as red:
        verdict_task("410327", "宜阳县 410327", rerun)
    assert str(red.value).startswith("宜阳县 410327: night 2019-03-16 still quarantined 隔离, no loaded export "
                                     "replacing it: export 410327-20190316-01: file findings.csv"), str(red.value)
    assert "column category, value 'ZZ9'" in str(red.value) and f"/xuncha/quarantine/{batch_id}" in str(red.value)
    v = nightly.county_verdict("宜阳县 410327", rerun, nightly.county_judged("410327", rerun, NIGHT, clean))
    note = county_note(v, "re-run after quarantine")
    assert note.startswith("RED: 宜阳县 410327: night 2019-03-16 still quarantined 隔离"), note
    assert note.endswith(f"(/xuncha/quarantine/{batch_id}) — night 2019-03-16: nothing waiting, nothing loaded — "
                         "re-run after quarantine"), note
    # a scheduled run of the next night loads it and did not take 2019-03-16 in: not red for that older night
    write_export(settings.landing, "410327", "410327-20190317-01", "2019-03-17",
                 slice_rows("410327", updated="2019-03-17T20:00:00+08:00"))
    assert not verdict_task("410327", "宜阳县 410327", result("410327", NIGHT + dt.timedelta(days=1), clean),
                            night=None)["red"]
    # the county sends a corrected export; the re-run loads it and is green
    write_export(settings.landing, "410327", "410327-20190316-02", "2019-03-16", slice_rows("410327"))
    fixed = verdict_task("410327", "宜阳县 410327", result("410327", NIGHT, clean))
    assert not fixed["red"] and fixed["loaded"] == 1 and fixed["link"] is None


def test_a_red_note_starts_with_the_reason_then_the_summary_then_the_users_reason(clean, settings):
    from xuncha.orchestration.run_notes import county_note

    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "XX"
    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", bad)
    v = nightly.county_verdict("宜阳县 410327", result("410327", NIGHT, clean))
    note = county_note(v, "why 原因")
    assert note.startswith("RED: 宜阳县 410327: export 410327-20190316-01 (night 2019-03-16) quarantined: "), note
    assert note.endswith(" — night 2019-03-16: took in 1 night(s) 2019-03-16, 0 export(s) loaded, 1 quarantined 隔离"
                         " — why 原因"), note


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


def ingest_task(code: str, label: str, night: str, when: dt.datetime | None = None):
    """The county DAG's `ingest` task (sensors.CountyNightOperator) run as Airflow runs it, for a manual run with Param
    night `night`: its result, or what it raises (AirflowFailException, TaskDeferred)."""
    from xuncha.orchestration.assets import CORE, core_changes
    from xuncha.orchestration.sensors import CountyNightOperator

    op = CountyNightOperator(task_id="ingest", county={"code": code, "label": label}, changes=core_changes(code),
                             core=CORE)
    when = when or dt.datetime.now(dt.timezone.utc)
    return op.execute({"params": {"night": night}, "dag_run": None, "logical_date": when, "outlet_events": {}})


def test_a_night_after_today_fails_at_once_without_retry_naming_the_night_and_today(clean, settings, monkeypatch):
    """The trial's `{"night": "2030-01-01"}`: refused before anything is fetched or deferred (a deferred wait until
    2030-01-02 held back the county's later nights, max_active_runs 1), with AirflowFailException (no retry); the run
    note says it too. Today is the platform's (Asia/Shanghai): 01:00 there is still the day before in UTC."""
    from airflow.sdk.exceptions import AirflowFailException

    from xuncha.orchestration import run_notes

    late_utc = dt.datetime(2026, 12, 7, 17, 0, tzinfo=dt.timezone.utc)   # 2026-12-08 01:00 in Shanghai
    assert nightly.future_night(dt.date(2026, 12, 8), late_utc) is None, "today's night is under way: allowed"
    assert nightly.future_night(dt.date(2026, 12, 7), late_utc) is None
    assert nightly.future_night(dt.date(2026, 12, 9), late_utc).startswith(
        "night 2026-12-09 is in the future (today is 2026-12-08, Asia/Shanghai)")

    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", slice_rows("410327"))
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    with pytest.raises(AirflowFailException) as refused:
        ingest_task("410327", "宜阳县 410327", "2030-01-01")
    assert str(refused.value).startswith(f"宜阳县 410327: night 2030-01-01 is in the future (today is {today}, "
                                         "Asia/Shanghai): refused"), str(refused.value)
    assert (settings.landing / "410327" / "410327-20190316-01").is_dir(), "nothing was taken in"
    assert query(clean, "SELECT count(*) FROM audit.batches") == [(0,)]

    class Run:   # the failed run as the listener sees it: no `ingest` result
        dag_id, conf, logical_date = "xuncha_county_410327", {"night": "2030-01-01", "reason": "typo"}, late_utc

    monkeypatch.setattr(run_notes, "_ingest_result", lambda dag_run, session, task_id="ingest": None)
    assert run_notes.note_for(Run(), None).startswith(
        f"RED: 宜阳县 410327: night 2030-01-01 is in the future (today is {today}, Asia/Shanghai)")
    Run.conf = {"night": str(today)}
    assert run_notes.note_for(Run(), None) is None, "another failure of ingest: its log says why"


def test_an_ended_countys_run_names_the_export_in_its_folder_why_it_is_not_taken_and_who_takes_it(clean, settings):
    """吉利区 410306 ended on 2021-02-28 (successor 孟津区 410308). Its run of a later night takes nothing; its note
    said only 'nothing waiting, nothing loaded' while an export sat in its landing folder. Now the note names the
    export, why this run does not take it and which county does; 孟津区's run then takes it, as the note says."""
    from xuncha.orchestration.run_notes import county_note

    write_export(settings.landing, "410306", "410306-20210305-01", "2021-03-05", slice_rows("410306"))
    res = ingest_task("410306", "吉利区 410306", "2021-03-05")
    assert res["status"] == "inactive" and res["summary"]["exports"] == []
    note = county_note(nightly.county_verdict("吉利区 410306", res))
    assert note == ("night 2021-03-05: not 吉利区 410306's night (it exports under its code 2016-10-01 … 2021-02-28), "
                    "so this run takes nothing; waiting in its landing folder: export 410306-20210305-01 (night "
                    "2021-03-05, after its last night 2021-02-28) — 孟津区 410308's next run takes it (a successor "
                    "takes what waits for the counties it continues)"), note
    taken = county_night.run(registry.default(), "410308", dt.date(2021, 3, 5), url=clean)
    assert [(r.export_id, r.county_code, r.status) for r in taken.exports] == [
        ("410306-20210305-01", "410306", "loaded")], "孟津区 410308's run took it, as the note said"
    again = county_note(nightly.county_verdict("吉利区 410306", ingest_task("410306", "吉利区 410306", "2021-03-06")))
    assert again.endswith("so this run takes nothing; nothing waits in its landing folder"), again


def test_a_county_not_yet_active_says_its_own_first_run_takes_what_waits(settings, tmp_path):
    """偃师区 410307 exports from 2021-03-01: a run of an earlier night takes nothing, and its own runs will."""
    landing = tmp_path / "landing"
    write_export(landing, "410307", "410307-20210301-01", "2021-03-01", slice_rows("410307"))
    said = county_night.not_its_own(registry.default(), "410307", dt.date(2021, 2, 20),
                                    dataclasses.replace(settings, landing=landing))
    assert said == ("not 偃师区 410307's night (it exports under its code from 2021-03-01 on), so this run takes "
                    "nothing; waiting in its landing folder: export 410307-20210301-01 (night 2021-03-01, its own "
                    "night) — its own run of 2021-03-01 or later takes it"), said
