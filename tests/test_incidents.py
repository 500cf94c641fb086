"""Incidents that open once and close, told to operators and (in Chinese) to the county's own contacts — through a
real SMTP server and real webhook receivers on loopback, with Airflow's notifiers, on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from conftest import query
from exports import slice_rows, write_export
from notify_kit import (LUANCHUAN, LUANCHUAN_MAIL, OPS_MAIL, RUYANG, SONGXIAN, SONGXIAN_MAIL, channels, county,  # noqa: F401
                        robots, small_registry, smtp_server)

from xuncha.monitor import findings, health, incidents
from xuncha.orchestration import notifications
from xuncha.warehouse import db

LOCAL = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def empty(clean):
    """A clean warehouse with the marts the overdue checks read emptied too."""
    with db.connect(clean) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE mart.clue_disposal, mart.rectification")
    return clean


def morning(day: dt.date) -> dt.datetime:
    """09:00 Asia/Shanghai on `day`: the health run of that morning (expected night = day - 1)."""
    return dt.datetime.combine(day, dt.time(9), LOCAL)


def load_nights(url: str, code: str, first: dt.date, last: dt.date, rows: int = 40) -> None:
    """Record loaded exports of `code` for nights first..last (the ledger as the pipeline leaves it)."""
    with db.connect(url) as conn, conn.cursor() as cur:
        d = first
        while d <= last:
            cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, source, status, declared_rows,
                                                      loaded_rows, finished_at)
                           VALUES (%s, %s, %s, 'test', 'loaded', %s, %s, now())""", (f"{code}-{d}", code, d, rows, rows))
            d += dt.timedelta(days=1)


def run(url, reg, now, escalate_hours=1000):
    return health.check(url, reg, notifications.deliver, now=now, escalate_after=dt.timedelta(hours=escalate_hours),
                        ui_url="http://xuncha.test:8080", channels=len(notifications.operator_channels()))


def test_a_county_stale_for_five_nights_opens_one_incident_and_sends_one_notification(empty, channels):
    box, robots, _ = channels
    reg = small_registry(RUYANG)
    day0 = dt.date(2024, 5, 10)
    load_nights(empty, "410326", dt.date(2024, 4, 1), day0 - dt.timedelta(days=3))   # newest night: 2 behind
    runs = [run(empty, reg, morning(day0 + dt.timedelta(days=i))) for i in range(5)]
    assert all(r.failed for r in runs), "a critical incident open and unacknowledged fails every run"
    [inc] = query(empty, "SELECT kind, state, seen_count, county_code FROM audit.incidents")
    assert inc == ("stale", "open", 5, "410326")
    assert len(box.to(OPS_MAIL)) == 1 and len(robots.got["ops"]) == 1, "one notification per channel, not one a night"
    subject, text = box.to(OPS_MAIL)[0]
    assert "opened" in subject and "汝阳县 410326" in subject and "newest loaded night 2024-05-07" in text
    assert runs[-1].report().startswith("1 critical incident(s) open and not acknowledged")
    assert "[stale] 汝阳县 410326" in runs[-1].report().splitlines()[1]


def test_acknowledging_stops_escalation_and_loading_the_missing_nights_resolves_it_once(empty, channels):
    box, robots, _ = channels
    reg = small_registry(RUYANG, county("410327", "宜阳县"))
    day0 = dt.date(2024, 5, 10)
    for code in ("410326", "410327"):
        load_nights(empty, code, dt.date(2024, 4, 1), day0 - dt.timedelta(days=3))
    first = run(empty, reg, morning(day0), escalate_hours=12)
    ids = {e.incident["county_code"]: e.incident["incident_id"] for e in first.events}
    incidents.ack(empty, ids["410326"], "王运维", "县里在修导出任务")
    for i in range(1, 4):
        r = run(empty, reg, morning(day0 + dt.timedelta(days=i)), escalate_hours=12)
        assert [i["county_code"] for i in r.blocking] == ["410327"], "only the unacknowledged one fails the run"
    ops = [s for s, _ in box.to(OPS_MAIL)]
    assert sum("汝阳县" in s for s in ops) == 1, "acknowledged: opened, never escalated"
    assert sum("宜阳县" in s and "ESCALATED" in s for s in ops) == 1, "unacknowledged: escalated once, not nightly"
    # The missing nights arrive: the next run resolves it by itself and says so once
    load_nights(empty, "410326", day0 - dt.timedelta(days=2), day0 + dt.timedelta(days=3))
    for i in (4, 5):
        run(empty, reg, morning(day0 + dt.timedelta(days=i)), escalate_hours=12)
    state = query(empty, "SELECT state, resolved_by, resolved_reason FROM audit.incidents WHERE incident_id = %s",
                  (ids["410326"],))
    assert state[0][:2] == ("resolved", "auto") and "no longer finds stale" in state[0][2]
    resolved = [s for s, _ in box.to(OPS_MAIL) if "汝阳县" in s and "resolved" in s]
    assert len(resolved) == 1
    assert sum("resolved" in t for t in robots.got["ops"]) == 1
    assert query(empty, "SELECT count(*) FROM audit.notifications WHERE event = 'resolved' AND ok") == [(2,)]


def test_a_quarantine_for_songxian_reaches_its_contact_in_chinese_and_the_operators_and_no_other_county(
        empty, channels, settings):
    from xuncha.load import pipeline

    box, robots, _ = channels
    reg = small_registry(SONGXIAN, LUANCHUAN)
    ingestor = pipeline.Ingestor(reg, url=empty)
    ok = ingestor.ingest(write_export(settings.landing, "410325", "410325-20190315-01", "2019-03-15", slice_rows()),
                         reg.get("410325"))
    rows = slice_rows()
    rows["findings"][2]["category"] = "ZZ"
    bad = ingestor.ingest(write_export(settings.landing, "410325", "410325-20190316-01", "2019-03-16", rows),
                          reg.get("410325"))
    assert (ok.status, bad.status) == ("loaded", "quarantined")
    load_nights(empty, "410324", dt.date(2019, 2, 1), dt.date(2019, 3, 16))
    r = run(empty, reg, morning(dt.date(2019, 3, 17)))
    assert [(e.event, e.incident["kind"], e.incident["county_code"]) for e in r.events] == [("opened", "quarantine", "410325")]
    [(subject, text)] = box.to(SONGXIAN_MAIL)
    assert subject == f"【巡察数据平台】嵩县 410325：隔离（事件 #{r.events[0].incident['incident_id']}）"
    for said in ("业务日期 2019-03-16 的导出（批次号 410325-20190316-01）未通过校验，已被隔离",
                 "文件 findings.csv，第 3 条数据（含表头为第 4 行），列 category，值 “ZZ”：数据行未通过校验（row.invalid，code list 代码表）",
                 # the problem's own advice, then the rule's general one
                 "处理方法：category 的取值不在代码表 finding_category 中：请使用规范代码表中的代码；请在本县系统中更正该行的值后重新导出当晚数据",
                 f"隔离报告：http://xuncha.test:8080/xuncha/quarantine/{bad.batch_id}"):
        assert said in text, (said, text)
    [chat] = robots.got["songxian"]
    assert "文件 findings.csv，第 3 条数据" in chat and "Xuncha" not in chat, "the county is told in Chinese"
    [(ops_subject, ops_text)] = box.to(OPS_MAIL)
    assert "quarantine 隔离 — 嵩县 410325" in ops_subject and "findings.csv, row 3, column category" in ops_text
    assert len(robots.got["ops"]) == 1
    assert box.to(LUANCHUAN_MAIL) == [] and "luanchuan" not in robots.got, "no other county hears of it"



def test_a_date_written_wrong_is_named_date_format_in_every_report_and_the_notice_says_how_to_write_it(
        empty, channels, settings):
    """County clerk trial (issue 26): the strict form is a row rule now, and the county still reads which check
    failed ("date format 日期格式", not "row check 行校验") and how to write the value, in the report and the notice."""
    import json

    from xuncha.load import pipeline

    box, robots, _ = channels
    reg = small_registry(SONGXIAN, LUANCHUAN)
    ingestor = pipeline.Ingestor(reg, url=empty)
    rows = slice_rows()
    rows["findings"][0]["found_date"] = "2019-3-5"
    rows["findings"][1]["found_date"] = "2019-02-30"
    rows["findings"][2]["updated_at"] = "2019-03-15 8:04"
    for row in rows["findings"][3:]:
        row["category"] = "ZZ"   # three more: six problems, one more than a notice lists
    bad = ingestor.ingest(write_export(settings.landing, "410325", "410325-20190316-01", "2019-03-16", rows),
                          reg.get("410325"))
    assert bad.status == "quarantined"
    report = json.loads(bad.report.with_name("_report.json").read_text(encoding="utf-8"))
    got = {(p["row"], p["column"]): p for p in report["problems"]}
    form, real, time = got[(1, "found_date")], got[(2, "found_date")], got[(3, "updated_at")]
    assert (form["check"], real["check"], time["check"]) == ("date format 日期格式", "real date 有效日期",
                                                             "time format 时间格式")
    assert "YYYY-MM-DD" in form["message_zh"] and "2019/03/05" in form["message_zh"]
    assert "2 月 30 日" in real["message_zh"], "a date of the right form that does not exist is told so"
    assert "+08:00" in time["message_zh"] and "类型不对" not in time["message_zh"]
    assert form["message_zh"].endswith("本行应写为 2019-03-05"), "the county's own value, in the spec's form"
    assert "本行应写为 2019-03-15T08:04:00+08:00" in time["message_zh"]
    assert "(date format 日期格式)" in bad.report.read_text(encoding="utf-8")
    assert "date format 日期格式" in bad.report.with_name("_report.html").read_text(encoding="utf-8")
    [problem] = [p for p in bad.problems if p.row == 1 and p.column == "found_date"]
    assert str(problem).startswith("[row.invalid, date format 日期格式] findings.csv, row 1, column found_date")
    load_nights(empty, "410324", dt.date(2019, 2, 1), dt.date(2019, 3, 16))
    r = run(empty, reg, morning(dt.date(2019, 3, 17)))
    [summary] = [e.incident["summary"] for e in r.events if e.incident["kind"] == "quarantine"]
    assert f"and {len(report['problems']) - 1} more problem(s)" in summary, "the incident says the first is not all"
    [text] = [text for subject, text in box.to(SONGXIAN_MAIL) if "隔离" in subject]
    assert "第 1 条数据（含表头为第 2 行），列 found_date，值 “2019-3-5”：数据行未通过校验（row.invalid，date format 日期格式）" in text
    assert f"处理方法：{form['message_zh']}；" in text, text
    assert f"共 {len(report['problems'])} 项问题，以下是前 5 项" in text

def test_fourteen_heartbeat_only_nights_from_a_county_that_sent_rows_open_a_volume_incident(empty, channels, settings):
    from xuncha.load import pipeline

    reg = small_registry(SONGXIAN)
    start = dt.date(2021, 4, 1)
    load_nights(empty, "410325", start - dt.timedelta(days=28), start - dt.timedelta(days=1), rows=120)
    ingestor = pipeline.Ingestor(reg, url=empty)
    opened_on = []
    for i in range(14):
        night = start + dt.timedelta(days=i)
        beat = ingestor.ingest(write_export(settings.landing, "410325", f"410325-{night:%Y%m%d}-01", str(night), {}),
                               reg.get("410325"))
        assert beat.status == "loaded"
        r = run(empty, reg, morning(night + dt.timedelta(days=1)))
        opened_on += [night for e in r.events if e.event == "opened" and e.incident["kind"] == "volume"]
    assert opened_on == [start + dt.timedelta(days=6)], "opened once, on the 7th heartbeat-only night (the default)"
    [(kind, state, detail)] = query(empty, "SELECT kind, state, detail FROM audit.incidents")
    assert (kind, state, detail["rule"], detail["nights"], detail["median"]) == ("volume", "open", "heartbeats_only", 14, 120)
    zh = channels[0].to(SONGXIAN_MAIL)[0][1]
    assert "连续 7 晚的导出没有数据行" in zh


def test_a_successor_county_is_judged_with_its_predecessors_loaded_nights(empty, channels):
    from xuncha import registry

    reg = registry.default()
    now = morning(dt.date(2021, 3, 6))
    load_nights(empty, "410381", dt.date(2021, 2, 1), dt.date(2021, 3, 5))   # 偃师市's system still delivering
    found = {(f.kind, f.county_code): f for f in findings.current(
        empty, reg, now)}
    assert ("stale", "410307") not in found, "偃师区 is fresh through its predecessor's rows"
    assert ("stale", "410381") not in found, "a code no longer in use is not judged"
    load_nights(empty, "410381", dt.date(2021, 3, 6), dt.date(2021, 3, 6))
    later = {(f.kind, f.county_code): f for f in findings.current(
        empty, reg, morning(dt.date(2021, 3, 12)))}
    assert "newest loaded night 2021-03-06" in later[("stale", "410307")].message, "not “never loaded”"


def test_a_person_acknowledges_and_resolves_once_and_the_states_are_enforced(empty):
    reg = small_registry(RUYANG)
    r = health.check(empty, reg, lambda *a: [], now=morning(dt.date(2024, 5, 10)), escalate_after=dt.timedelta(hours=4))
    [ev] = r.events
    iid = ev.incident["incident_id"]
    row = incidents.ack(empty, iid, "王运维", "在查")
    assert (row["state"], row["acknowledged_by"], row["ack_note"]) == ("acknowledged", "王运维", "在查")
    with pytest.raises(incidents.IncidentError, match="not open"):
        incidents.ack(empty, iid, "李运维")
    done = incidents.resolve(empty, iid, "王运维", "县里已补发")
    assert (done.event, done.incident["state"], done.incident["resolved_by"]) == ("resolved", "resolved", "王运维")
    with pytest.raises(incidents.IncidentError, match="already resolved"):
        incidents.resolve(empty, iid, "王运维", "again")
    # The condition persists: the next run opens a new incident (the partial unique index allows one unresolved)
    r2 = health.check(empty, reg, lambda *a: [], now=morning(dt.date(2024, 5, 11)), escalate_after=dt.timedelta(hours=4))
    assert [e.event for e in r2.events] == ["opened"] and r2.events[0].incident["incident_id"] != iid
    with db.connect(empty) as conn, conn.cursor() as cur, pytest.raises(Exception, match="incidents_one_open"):
        cur.execute("""INSERT INTO audit.incidents (county_code, kind, severity, summary, first_seen, last_seen)
                       VALUES ('410326', 'stale', 'critical', 'dup', now(), now())""")


def test_contacts_and_volume_thresholds_are_schema_checked_naming_the_county_and_field():
    from xuncha.registry import RegistryError

    with pytest.raises(RegistryError, match=r"county #1 \(410325 嵩县\): contacts.email: 'xcb-at-songxian' is not an e-mail"):
        small_registry(county("410325", "嵩县", contacts={"email": ["xcb-at-songxian"]}))
    with pytest.raises(RegistryError, match=r"contacts: unknown field\(s\) \['phone'\]"):
        small_registry(county("410325", "嵩县", contacts={"phone": "123"}))
    with pytest.raises(RegistryError, match="volume.drop_ratio must be a share"):
        small_registry(county("410325", "嵩县", volume={"drop_ratio": 2}))
    reg = small_registry(county("410325", "嵩县", contacts={"chat_conn_id": "xuncha_chat_410325"}, volume={"empty_nights": 3}))
    assert reg.get("410325").contacts == {"chat_conn_id": "xuncha_chat_410325"}
    from xuncha.monitor import volume

    assert volume.thresholds(reg.get("410325")) == volume.DEFAULTS | {"empty_nights": 3}


def test_the_volume_rules_fire_only_for_a_county_whose_history_says_it_sends_rows():
    from xuncha.monitor import volume

    day = dt.date(2024, 6, 1)
    nights = lambda *rows: [(day - dt.timedelta(days=i), n) for i, n in enumerate(rows)]  # noqa: E731  newest first
    limits = volume.DEFAULTS
    assert volume.judge(nights(*[0] * 7, *[50] * 28), limits)["rule"] == "heartbeats_only"
    assert volume.judge(nights(*[0] * 6, *[50] * 28), limits) is None, "fewer than empty_nights"
    assert volume.judge(nights(*[0] * 30, *[2] * 28), limits) is None, "a county that seldom sends rows"
    dropped = volume.judge(nights(3, *[80] * 28), limits)
    assert (dropped["rule"], dropped["rows"], dropped["median"]) == ("below_median", 3, 80)
    assert volume.judge(nights(9, *[80] * 28), limits) is None, "above drop_ratio × median"
    assert volume.judge(nights(0, *[80] * 28), limits) is None, "one heartbeat night is normal"


def test_a_failed_pull_opens_a_pull_failure_incident_until_a_later_pull_moves_the_watermark(empty, monkeypatch, settings):
    from notify_kit import free_port

    from xuncha.extract import connectors
    from xuncha.load import county_night
    from xuncha.orchestration.env import county_connection_env

    reg = small_registry(county("410325", "嵩县", delivery={"http": {"conn_id": "xuncha_county_410325"}}))
    for k, v in county_connection_env("xuncha_county_410325", f"http://127.0.0.1:{free_port()}", "t0k3n").items():
        monkeypatch.setenv(k, v)   # nothing listens there
    with pytest.raises(connectors.PullError, match="cannot be reached"):
        county_night.fetch(reg.get("410325"), settings, empty)
    now = dt.datetime.now(dt.timezone.utc)
    load_nights(empty, "410325", findings.expected_night(now) - dt.timedelta(days=9), findings.expected_night(now))
    with db.connect(empty) as conn, conn.cursor() as cur:   # the loads above finished before the failure
        cur.execute("UPDATE audit.batches SET finished_at = now() - interval '1 hour'")
    sent = []
    first = health.check(empty, reg, lambda *a: sent.append(a) or [], now=now)
    assert [(e.event, e.incident["kind"]) for e in first.events] == [("opened", "pull_failure")]
    summary = first.events[0].incident["summary"]
    assert summary.startswith("嵩县 410325: pull failed at ") and "+08:00 — the county system cannot be reached" in summary
    assert said_once(summary), summary
    with db.connect(empty) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO audit.watermarks (county_code, watermark, export_id, updated_at) "
                    "VALUES ('410325', now(), '410325-x', now() + interval '1 minute')")
    later = health.check(empty, reg, lambda *a: [], now=now + dt.timedelta(minutes=5))
    assert [(e.event, e.incident["kind"]) for e in later.events] == [("resolved", "pull_failure")]


def said_once(summary: str) -> bool:
    """An incident summary (`<county label>: <message>`) that says its county and its first words once (trial 15:
    'pull failed at …: pull failed: pull failed — …', and a PullError's own '嵩县 410325: ' after the label)."""
    label, message = summary.split(": ", 1)
    head = " ".join(message.split()[:2])
    return summary.count(label) == 1 and message.count(head) == 1


def test_no_incident_summary_repeats_its_county_or_its_first_words_whatever_its_kind(empty, settings):
    """Trial 15 read 'pull failed: pull failed — …'. Every kind a health run opens here — stale, missing, quarantine,
    pull_failure (from an alert written as before the fix, which said it twice) — says its county and its first words
    once."""
    from xuncha.extract import deadlines
    from xuncha.load import pipeline

    reg = small_registry(county("410325", "嵩县", delivery={"http": {"conn_id": "xuncha_county_410325"}}), RUYANG)
    day = dt.date(2019, 3, 16)
    rows = slice_rows()
    rows["findings"][2]["category"] = "ZZ"
    bad = write_export(settings.landing, "410325", "410325-20190316-01", str(day), rows)
    assert pipeline.Ingestor(reg, url=empty).ingest(bad, reg.get("410325")).status == "quarantined"
    now = morning(day + dt.timedelta(days=1))
    with db.connect(empty) as conn, conn.cursor() as cur:   # 汝阳县 missed the night; 嵩县's alert as trial 15 left it
        cur.execute("""INSERT INTO audit.deadline_misses (county_code, business_date, deadline_at)
                       VALUES ('410326', %s, %s)""", (day, deadlines.deadline_at(reg.get("410326"), day)))
        cur.execute("""INSERT INTO audit.alerts (kind, county_code, message, detail, raised_at)
                       VALUES ('pull_failed', '410325', %s, '{}', %s)""",
                    ("pull failed: pull failed — no Airflow connection `xuncha_county_410325`; add it with `airflow "
                     "connections add xuncha_county_410325 …`", now - dt.timedelta(minutes=5)))
    r = run(empty, reg, now)
    opened = [e.incident for e in r.events if e.event == "opened"]
    summaries = {i["kind"]: i["summary"] for i in opened}
    assert {"stale", "missing", "quarantine", "pull_failure"} <= set(summaries), summaries
    assert [i["summary"] for i in opened if not said_once(i["summary"])] == []
    assert summaries["pull_failure"].startswith("嵩县 410325: pull failed at 2019-03-17 08:55 +08:00 — no Airflow "
                                                "connection `xuncha_county_410325`"), summaries["pull_failure"]
