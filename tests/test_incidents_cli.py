"""`xuncha incidents list|ack|resolve`, `xuncha notify test` and the line `xuncha up` prints when notifications are off —
real commands in subprocesses, against the suite's warehouse and real loopback receivers."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from notify_kit import OPS_MAIL, SONGXIAN_MAIL, channels, config_with_songxian_contacts, robots, small_registry, smtp_server, RUYANG  # noqa: F401

from xuncha.monitor import health

XUNCHA = str(Path(sys.executable).with_name("xuncha"))


def xuncha(*args, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_XUNCHA_NOTIFY")}
    return subprocess.run([XUNCHA, *args], capture_output=True, text=True, env=base | (env or {}), timeout=300)


def test_incidents_can_be_listed_acknowledged_and_resolved_from_the_cli(clean):
    now = dt.datetime(2024, 5, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    [ev] = health.check(clean, small_registry(RUYANG), lambda *a: [], now=now).events
    iid = str(ev.incident["incident_id"])
    listed = xuncha("incidents", "list")
    assert listed.returncode == 0 and "410326" in listed.stdout and "stale" in listed.stdout and "open" in listed.stdout
    acked = xuncha("incidents", "ack", iid, "--by", "王运维", "--note", "在查")
    assert acked.returncode == 0 and f"incident #{iid} acknowledged by 王运维" in acked.stdout
    again = xuncha("incidents", "ack", iid)
    assert again.returncode == 1 and "is not open" in again.stderr
    done = xuncha("incidents", "resolve", iid, "--by", "王运维", "--reason", "县里已补发")
    assert done.returncode == 0 and f"incident #{iid} resolved" in done.stdout, done.stderr
    assert "no incidents open" in xuncha("incidents", "list").stdout
    assert "resolved by 王运维" in xuncha("incidents", "list", "--all").stdout


def test_the_cli_and_the_page_show_an_incidents_times_alike_in_local_time_labelled_with_its_offset(clean):
    """Trial 15: `xuncha incidents list` said 15:24 (UTC, unlabelled) and the page 23:24 (local, unlabelled) for the
    same incident. Both now say 23:24 +08:00 (the platform's zone, settings.LOCAL_TIMEZONE)."""
    from xuncha.monitor import board, incidents
    from xuncha.monitor.findings import Finding

    first = dt.datetime(2026, 12, 7, 15, 24, tzinfo=dt.timezone.utc)
    stale = Finding("stale", "410326", "汝阳县", "newest loaded night never (数据不新鲜)")
    for at in (first, first + dt.timedelta(hours=2)):   # first seen, then last seen two hours later
        incidents.sync(clean, [stale], at, None, checked_kinds=set())
    listed = xuncha("incidents", "list")
    assert listed.returncode == 0, listed.stderr
    page = board.render(incidents.listing(clean), [], can_act=False, user="viewer", channels_off=None)   # the route's
    for shown in ("2026-12-07 23:24 +08:00", "2026-12-08 01:24 +08:00"):
        assert shown in listed.stdout and shown in page, (shown, listed.stdout)
    assert "15:24" not in listed.stdout and "15:24" not in page


def test_notify_test_sends_through_every_channel_and_says_which_failed(airflow_ready, channels, tmp_path):
    box, robots, env = channels
    config = config_with_songxian_contacts(tmp_path, {'name: 栾川县, level: county,':
                                                      'name: 栾川县, level: county, contacts: {chat_conn_id: xuncha_chat_nowhere},'})
    r = xuncha("notify", "test", env=env | {"XUNCHA_CONFIG": str(config)})
    assert r.returncode == 1, r.stdout + r.stderr
    lines = [" ".join(line.split()) for line in r.stdout.splitlines()]
    assert f"ok operators email {OPS_MAIL}" in lines and "ok operators chat xuncha_notify_chat" in lines
    assert f"ok 410325 email {SONGXIAN_MAIL}" in lines and "ok 410325 chat xuncha_chat_410325" in lines
    assert "FAILED 410324 chat xuncha_chat_nowhere: connection xuncha_chat_nowhere is not defined" in lines
    assert "410324 chat xuncha_chat_nowhere" in r.stderr and "channel(s) failed" in r.stderr, "the error on stderr"
    assert len(box.to(OPS_MAIL)) == 1 and "测试消息" in box.to(SONGXIAN_MAIL)[0][0]
    assert len(robots.got["ops"]) == 1 and "测试消息" in robots.got["songxian"][0]


def test_notify_test_and_up_say_when_no_channel_is_configured(airflow_ready, robots):
    r = xuncha("notify", "test")
    assert r.returncode == 1 and "no notification channel is configured" in r.stderr
    # `xuncha up` without starting Airflow: set-up and the supervised stack replaced, the rest of the command as it runs
    code = ("import xuncha.cli as c, xuncha.orchestration.stack as st; c.setup = lambda **k: None; "
            "st.supervise = lambda argv, env, **kw: print('EXEC', argv[1:]) or 0; c.app(['up', '--port', '8391'])")
    up = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                        env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_XUNCHA_NOTIFY")})
    assert "EXEC ['standalone']" in up.stdout, up.stdout + up.stderr
    assert "notifications are OFF (通知未配置)" in " ".join(up.stderr.split()), up.stderr
    configured = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                                env=os.environ | robots.conn_env("xuncha_notify_chat", "ops"))
    assert "EXEC" in configured.stdout and "notifications are OFF" not in configured.stderr
    said = " ".join(configured.stdout.split())
    assert "notifications ON (通知已开启): operators by chat robot xuncha_notify_chat; county contacts: 0 of" in said, said
    assert "incidents reach nobody but the incidents page" in " ".join(up.stderr.split())


def test_a_channel_kept_in_airflows_metadata_database_is_found_outside_a_task(airflow_ready, robots):
    url = f"http://127.0.0.1:{robots.server.server_port}/ops"
    added = xuncha("airflow", "connections", "add", "xuncha_notify_chat", "--conn-type", "http", "--conn-host", url)
    assert added.returncode == 0, added.stdout + added.stderr
    try:
        r = xuncha("notify", "test")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ok operators chat xuncha_notify_chat" in " ".join(r.stdout.split())
        assert len(robots.got["ops"]) == 1
    finally:
        xuncha("airflow", "connections", "delete", "xuncha_notify_chat")


def test_counties_shows_each_countys_last_loaded_night_open_incidents_and_whether_quarantined_or_stale(clean):
    from xuncha import registry
    from xuncha.monitor import findings
    from xuncha.warehouse import db

    night = findings.expected_night(dt.datetime.now(dt.timezone.utc))
    with db.connect(clean) as conn, conn.cursor() as cur:
        for code, day, status in (("410326", night, "loaded"), ("410325", night - dt.timedelta(days=1), "loaded"),
                                  ("410325", night, "quarantined")):
            cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, source, status, finished_at)
                           VALUES (%s, %s, %s, 'test', %s, now())""", (f"{code}-{day}-{status}", code, day, status))
    health.on_quarantine(clean, registry.default(), "410325", lambda *a: [])
    r = xuncha("counties")
    assert r.returncode == 0, r.stderr
    assert "last loaded night" in r.stdout and "open incidents" in r.stdout and "state" in r.stdout
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
            for line in r.stdout.splitlines() if line.count("│") > 5 and line.split("│")[1].strip().isdigit()}
    assert rows["410326"][6:9] == [str(night), "0", "ok"]
    assert rows["410325"][6:9] == [str(night - dt.timedelta(days=1)), "1", "quarantined"]
    assert rows["410327"][6:9] == ["never", "0", "stale"]
