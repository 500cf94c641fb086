"""A quarantine becomes an incident the moment the export is quarantined, not at the next hourly health run, and is
told once: real PostgreSQL, the real pipeline, a real SMTP server and real webhook receivers on loopback
(tests/notify_kit.py), Airflow's notifiers."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import query
from exports import slice_rows, write_export
from notify_kit import (LUANCHUAN, LUANCHUAN_MAIL, OPS_MAIL, SONGXIAN, SONGXIAN_MAIL, channels, robots,  # noqa: F401
                        config_with_songxian_contacts, small_registry, smtp_server)

from xuncha.extract import inbox
from xuncha.load import county_night, pipeline
from xuncha.monitor import health
from xuncha.orchestration import notifications
from xuncha.warehouse import db

LOCAL = ZoneInfo("Asia/Shanghai")
XUNCHA = str(Path(sys.executable).with_name("xuncha"))
UI = "http://xuncha.test:8080"


@pytest.fixture
def empty(clean):
    with db.connect(clean) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE mart.clue_disposal, mart.rectification")
    return clean


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), LOCAL)


def test_a_quarantine_opens_its_incident_and_notifies_at_once_and_the_health_run_does_not_notify_again(
        empty, channels, settings):
    box, robots, _ = channels
    reg = small_registry(SONGXIAN, LUANCHUAN)
    ingestor = pipeline.Ingestor(reg, url=empty)
    rows = slice_rows()
    rows["findings"][2]["category"] = "ZZ"
    bad = write_export(settings.landing, "410325", "410325-20190316-01", "2019-03-16", rows)
    load_time = at(dt.date(2019, 3, 17), 2)
    called = []

    def on_quarantine(code):
        called.append(code)
        return health.on_quarantine(empty, reg, code, notifications.deliver, now=load_time, ui_url=UI)

    night = county_night.run(reg, "410325", None, url=empty, exports=[inbox.receive(bad)], ingestor=ingestor,
                             on_quarantine=on_quarantine)
    assert night.quarantined == ["410325-20190316-01"] and called == ["410325"]
    [(iid, kind, state, first_seen)] = query(empty, "SELECT incident_id, kind, state, first_seen FROM audit.incidents")
    assert (kind, state, first_seen) == ("quarantine", "open", load_time), "open from the moment of the quarantine"
    [(subject, text)] = box.to(SONGXIAN_MAIL)
    assert subject == f"【巡察数据平台】嵩县 410325：隔离（事件 #{iid}）"
    assert "文件 findings.csv，第 3 条数据（含表头为第 4 行），列 category，值 “ZZ”" in text and "/xuncha/quarantine/" in text
    assert len(box.to(OPS_MAIL)) == 1 and len(robots.got["ops"]) == 1 and len(robots.got["songxian"]) == 1
    assert box.to(LUANCHUAN_MAIL) == [] and "luanchuan" not in robots.got
    # the hourly health runs that follow see the same quarantine: updated, not told again
    for hour in (3, 4):
        r = health.check(empty, reg, notifications.deliver, now=at(dt.date(2019, 3, 17), hour),
                         escalate_after=dt.timedelta(hours=1000), ui_url=UI)
        assert [e.event for e in r.events if e.incident["kind"] == "quarantine"] == []
        assert [i["incident_id"] for i in r.blocking if i["kind"] == "quarantine"] == [iid]
    assert query(empty, "SELECT seen_count FROM audit.incidents WHERE incident_id = %s", (iid,)) == [(3,)]
    assert [s for s, _ in box.to(SONGXIAN_MAIL) if "隔离" in s] == [subject], "told once (its stale incident is another)"
    assert len([s for s, _ in box.to(OPS_MAIL) if "quarantine" in s]) == 1
    assert query(empty, "SELECT count(*) FROM audit.notifications WHERE incident_id = %s AND event = 'opened'", (iid,)) \
        == [(4,)], "operators (e-mail, chat) and 嵩县 (e-mail, chat), once each"


def test_a_quarantine_of_an_old_night_opens_its_incident_at_once_too(empty, channels, settings):
    box, robots, _ = channels
    reg = small_registry(SONGXIAN, LUANCHUAN)
    rows = slice_rows()
    rows["findings"][2]["category"] = "ZZ9"
    bad = write_export(settings.landing, "410325", "410325-20190316-01", "2019-03-16", rows)
    months_later = at(dt.date(2019, 6, 1), 10)   # the demo's history loaded today: the night is far outside 30 nights
    night = county_night.run(reg, "410325", None, url=empty, exports=[inbox.receive(bad)],
                             ingestor=pipeline.Ingestor(reg, url=empty),
                             on_quarantine=lambda code: health.on_quarantine(empty, reg, code, notifications.deliver,
                                                                             now=months_later, ui_url=UI))
    assert night.quarantined == ["410325-20190316-01"]
    [(iid, kind, state, summary)] = query(empty, "SELECT incident_id, kind, state, summary FROM audit.incidents")
    assert (kind, state) == ("quarantine", "open") and "2019-03-16" in summary and "410325-20190316-01" in summary
    [(subject, text)] = box.to(SONGXIAN_MAIL)
    assert subject == f"【巡察数据平台】嵩县 410325：隔离（事件 #{iid}）" and "值 “ZZ9”" in text
    # a second quarantine of that night updates the open incident and tells nobody again
    again = write_export(settings.landing, "410325", "410325-20190316-02", "2019-03-16", rows)
    county_night.run(reg, "410325", None, url=empty, exports=[inbox.receive(again)],
                     ingestor=pipeline.Ingestor(reg, url=empty),
                     on_quarantine=lambda code: health.on_quarantine(empty, reg, code, notifications.deliver,
                                                                     now=months_later, ui_url=UI))
    assert query(empty, "SELECT count(*), max(seen_count) FROM audit.incidents") == [(1, 2)]
    assert len(box.to(SONGXIAN_MAIL)) == 1 and len(robots.got["songxian"]) == 1
    # the hourly health run, which re-checks the last 30 nights, keeps the old night's incident open and quiet
    hourly = dict(escalate_after=dt.timedelta(hours=1000), ui_url=UI)
    r = health.check(empty, reg, notifications.deliver, now=months_later + dt.timedelta(hours=1), **hourly)
    assert [e.event for e in r.events if e.incident["kind"] == "quarantine"] == []
    assert [i["incident_id"] for i in r.blocking if i["kind"] == "quarantine"] == [iid]
    assert query(empty, "SELECT state, seen_count FROM audit.incidents WHERE incident_id = %s", (iid,)) == [("open", 3)]
    assert [s for s, _ in box.to(SONGXIAN_MAIL) if "隔离" in s] == [subject], "told once (its stale incident is another)"
    # a corrected export of that night loads: the next health run resolves the incident
    fixed = write_export(settings.landing, "410325", "410325-20190316-03", "2019-03-16", slice_rows())
    assert county_night.run(reg, "410325", None, url=empty, exports=[inbox.receive(fixed)],
                            ingestor=pipeline.Ingestor(reg, url=empty)).loaded == 1
    r = health.check(empty, reg, notifications.deliver, now=months_later + dt.timedelta(hours=2), **hourly)
    assert [(e.event, e.incident["incident_id"]) for e in r.events if e.incident["kind"] == "quarantine"] == [("resolved", iid)]


def test_a_load_without_a_quarantine_tells_nobody_and_a_failing_notifier_never_fails_the_load(empty, settings):
    reg = small_registry(SONGXIAN)
    ingestor = pipeline.Ingestor(reg, url=empty)
    ok = write_export(settings.landing, "410325", "410325-20190315-01", "2019-03-15", slice_rows())
    calls = []
    night = county_night.run(reg, "410325", None, url=empty, exports=[inbox.receive(ok)], ingestor=ingestor,
                             on_quarantine=calls.append)
    assert night.loaded == 1 and calls == []
    rows = slice_rows()
    rows["findings"][0]["category"] = "ZZ"
    bad = write_export(settings.landing, "410325", "410325-20190316-01", "2019-03-16", rows)

    def broken(code):
        raise RuntimeError("SMTP relay on fire")

    night = county_night.run(reg, "410325", None, url=empty, exports=[inbox.receive(bad)], ingestor=ingestor,
                             on_quarantine=broken)
    assert night.quarantined == ["410325-20190316-01"], "the quarantine stands; the health run tells it later"


def test_xuncha_ingest_opens_the_quarantine_incident_and_notifies_at_once_as_the_county_dag_does(
        clean, airflow_ready, channels, tmp_path):
    box, robots, env = channels
    config = config_with_songxian_contacts(tmp_path)
    night = (dt.datetime.now(LOCAL) - dt.timedelta(days=1)).date()     # the health run's window is the last 30 nights
    rows = slice_rows(updated=f"{night}T20:00:00+08:00")
    rows["findings"][2]["category"] = "ZZ"
    export_id = f"410325-{night:%Y%m%d}-01"
    write_export(tmp_path / "in", "410325", export_id, str(night), rows)
    r = subprocess.run([XUNCHA, "ingest", str(tmp_path / "in")], capture_output=True, text=True, timeout=300,
                       env=os.environ | env | {"XUNCHA_CONFIG": str(config)})
    assert r.returncode == 2 and f"{export_id} quarantined" in r.stderr, r.stdout + r.stderr
    assert "410325: quarantine incident opened; 4 notification(s) sent" in " ".join(r.stderr.split())
    [(iid, state)] = query(clean, "SELECT incident_id, state FROM audit.incidents WHERE county_code = '410325' "
                                  "AND kind = 'quarantine'")
    assert state == "open", "open from the load, before any health run"
    [(subject, text)] = box.to(SONGXIAN_MAIL)
    assert subject == f"【巡察数据平台】嵩县 410325：隔离（事件 #{iid}）"
    assert "文件 findings.csv，第 3 条数据（含表头为第 4 行），列 category，值 “ZZ”" in text
    assert len(box.to(OPS_MAIL)) == 1 and len(robots.got["ops"]) == 1 and len(robots.got["songxian"]) == 1


def _quarantine_codes(url: str) -> list[tuple]:
    return query(url, "SELECT county_code, state, summary FROM audit.incidents WHERE kind = 'quarantine' "
                      "ORDER BY incident_id")


def test_a_predecessors_quarantined_export_is_its_own_incident_not_its_successors(empty, settings):
    """Trial 15: 吉利区 410306's quarantined night was filed under 孟津区 410308 (its successor from 2021), so
    `xuncha counties` showed 410306 with no incident. Whichever DAG takes it in (410306's own, as `make demo` does, or
    410308's, which takes its predecessors' inboxes), the incident is 410306's, and the hourly run keeps it there."""
    from xuncha import registry
    from xuncha.monitor import board

    reg = registry.default()
    assert reg.get("410306").successor == "410308" and not reg.get("410306").active_on(dt.date(2024, 5, 31))
    rows = slice_rows("410306")
    rows["findings"][2]["category"] = "ZZ"
    bad = write_export(settings.landing, "410306", "410306-20190316-01", "2019-03-16", rows)
    now = at(dt.date(2024, 6, 1), 10)   # years after 吉利区's last night: 孟津区 410308 is the county judged now
    tell = lambda code: health.on_quarantine(empty, reg, code, lambda *a: [], now=now)   # noqa: E731
    night = county_night.run(reg, "410306", None, url=empty, exports=[inbox.receive(bad)],
                             ingestor=pipeline.Ingestor(reg, url=empty), on_quarantine=tell)
    assert night.quarantined == ["410306-20190316-01"]
    [(code, state, summary)] = _quarantine_codes(empty)
    assert (code, state) == ("410306", "open") and summary.startswith("吉利区 410306: ") and "2019-03-16" in summary
    states = {s["code"]: s for s in board.county_states(empty, reg, now, include_ended=True)}
    assert [i["kind"] for i in states["410306"]["open_incidents"]] == ["quarantine"]
    assert states["410308"]["open_incidents"] == [], "孟津区 sent nothing wrong"
    # the successor's own run takes a second bad export of that night from the predecessor's inbox: still 410306's
    write_export(settings.landing, "410306", "410306-20190316-02", "2019-03-16", rows)
    taken = county_night.run(reg, "410308", dt.date(2024, 5, 31), url=empty, ingestor=pipeline.Ingestor(reg, url=empty),
                             on_quarantine=tell)
    assert taken.quarantined == ["410306-20190316-02"]
    assert [(c, s) for c, s, _ in _quarantine_codes(empty)] == [("410306", "open")]
    assert query(empty, "SELECT seen_count FROM audit.incidents WHERE kind = 'quarantine'") == [(2,)]
    # the hourly health run keeps it open under 410306 (an old night, outside its 30-night window) ...
    hourly = dict(escalate_after=dt.timedelta(hours=1000))
    r = health.check(empty, reg, lambda *a: [], now=now + dt.timedelta(hours=1), **hourly)
    assert [(f.county_code, f.county_name) for f in r.found if f.kind == "quarantine"] == [("410306", "吉利区")]
    assert [e.event for e in r.events if e.incident["kind"] == "quarantine"] == []
    # ... until a corrected export of that night loads
    fixed = write_export(settings.landing, "410306", "410306-20190316-03", "2019-03-16", slice_rows("410306"))
    assert county_night.run(reg, "410306", None, url=empty, exports=[inbox.receive(fixed)],
                            ingestor=pipeline.Ingestor(reg, url=empty)).loaded == 1
    r = health.check(empty, reg, lambda *a: [], now=now + dt.timedelta(hours=2), **hourly)
    assert [(e.event, e.incident["county_code"]) for e in r.events if e.incident["kind"] == "quarantine"] == [
        ("resolved", "410306")]


def test_the_hourly_run_files_a_predecessors_night_in_its_window_under_the_predecessor(empty, settings):
    """Days after the 2021 code change the hourly run judges 孟津区 410308 with its predecessors' nights: a quarantined
    night of 孟津县 410322 in the window is 410322's incident, 410308's own bad night 410308's."""
    from xuncha import registry

    reg = registry.default()
    for code, day in (("410322", "2021-02-27"), ("410308", "2021-03-02")):
        rows = slice_rows(code, updated=f"{day}T20:00:00+08:00")
        rows["findings"][0]["category"] = "ZZ"
        export = write_export(settings.landing, code, f"{code}-{day.replace('-', '')}-01", day, rows)
        assert county_night.run(reg, code, None, url=empty, exports=[inbox.receive(export)],
                                ingestor=pipeline.Ingestor(reg, url=empty)).quarantined
    r = health.check(empty, reg, lambda *a: [], now=at(dt.date(2021, 3, 3), 9), escalate_after=dt.timedelta(hours=1000))
    assert sorted((f.county_code, f.detail["business_date"]) for f in r.found if f.kind == "quarantine") == [
        ("410308", "2021-03-02"), ("410322", "2021-02-27")]
    assert sorted(c for c, _, _ in _quarantine_codes(empty)) == ["410308", "410322"]
