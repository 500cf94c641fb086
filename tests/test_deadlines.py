"""Waiting for late exports: deferred until the deadline, loaded when they come, recorded and alerted when not."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
import zoneinfo

import pytest
from conftest import query
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.orchestration import env as airflow_env
from xuncha.extract import deadlines

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def one_county_config(tmp_path, deadline: str, poll_seconds: int = 2):
    d = tmp_path / "config"
    d.mkdir()
    (d / "counties.yml").write_text(
        "defaults: {timezone: Asia/Shanghai, deadline: \"%s\", delivery: {landing: default}, active_from: 2016-10-01, "
        "poll_seconds: %d}\ncounties:\n  - {code: \"410325\", name: 嵩县, level: county}\n" % (deadline, poll_seconds),
        encoding="utf-8")
    return d


def test_deadline_is_the_next_morning_in_the_countys_time_zone():
    c = registry.default().get("410329")
    assert deadlines.deadline_at(c, dt.date(2019, 3, 15)) == dt.datetime(2019, 3, 16, 6, 0, tzinfo=SHANGHAI)


@pytest.mark.slow
def test_a_late_export_is_waited_for_deferred_and_loaded_when_it_arrives(clean, airflow_ready, settings, tmp_path):
    now = dt.datetime.now(SHANGHAI).replace(microsecond=0)
    due = now + dt.timedelta(seconds=150)
    if due.date() != now.date():
        pytest.skip("too close to midnight in Shanghai for a same-day deadline")
    night = now.date() - dt.timedelta(days=1)
    env = airflow_env.airflow_environ() | {"XUNCHA_CONFIG": str(one_county_config(tmp_path, due.strftime("%H:%M")))}
    run = subprocess.Popen([str(airflow_env.airflow_bin()), "dags", "test", "xuncha_county_410325", now.isoformat()],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in run.stdout:   # until the sensor has found nothing and deferred (Airflow's start-up varies)
            lines.append(line)
            if "Pausing task as DEFERRED" in line:
                break
        assert run.poll() is None, "".join(lines)[-3000:]
        stamp = night.strftime("%Y%m%d")
        write_export(settings.landing, "410325", f"410325-{stamp}-01", night.isoformat(),
                     slice_rows(updated=f"{night.isoformat()}T20:00:00+08:00"))
        rest, _ = run.communicate(timeout=240)
    finally:
        run.kill()
    out = "".join(lines) + rest
    assert run.returncode == 0, out[-3000:]
    assert "Pausing task as DEFERRED" in out and "Trigger completed" in out
    assert query(clean, "SELECT status FROM audit.batches") == [("loaded",)]
    assert query(clean, "SELECT count(*) FROM audit.deadline_misses") == [(0,)]
    assert dt.datetime.now(SHANGHAI) < due, "the export loaded before the deadline, not at it"


def test_the_trigger_reports_a_miss_at_the_deadline_and_an_arrival_as_soon_as_it_lands(clean, settings):
    from xuncha.orchestration.sensors import ExportArrivalTrigger

    async def first_event(trigger):
        async for event in trigger.run():
            return event.payload

    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)
    t0 = time.monotonic()
    assert asyncio.run(first_event(ExportArrivalTrigger("410329", "2019-03-15", due.isoformat(), 1))) == {"status": "missed"}
    assert 2 <= time.monotonic() - t0 < 10
    write_export(settings.landing, "410329", "410329-20190315-01", "2019-03-15", slice_rows())
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=60)
    t0 = time.monotonic()
    assert asyncio.run(first_event(ExportArrivalTrigger("410329", "2019-03-15", due.isoformat(), 1))) == {"status": "arrived"}
    assert time.monotonic() - t0 < 5
    kind, module = ExportArrivalTrigger("410329", "2019-03-15", due.isoformat()).serialize()
    assert kind == "xuncha.orchestration.sensors.ExportArrivalTrigger" and module["county_code"] == "410329"


def test_a_miss_is_recorded_and_alerted_once_and_closed_when_the_export_loads(clean, settings):
    c = registry.default().get("410329")
    day = dt.date(2019, 3, 15)
    assert deadlines.record_miss(clean, c, day) is True
    assert deadlines.record_miss(clean, c, day) is False
    assert query(clean, "SELECT kind, county_code, business_date::text FROM audit.alerts") == [
        ("deadline_missed", "410329", "2019-03-15")]
    from xuncha.load import county_night

    write_export(settings.landing, "410329", "410329-20190315-01", "2019-03-15", slice_rows())
    assert county_night.run(registry.default(), "410329", day, url=clean).loaded == 1
    assert query(clean, "SELECT arrived_at IS NOT NULL FROM audit.deadline_misses") == [(True,)]


def test_the_arrival_check_reads_each_waiting_manifest_once_and_moves_nothing(clean, settings):
    from xuncha.extract import inbox

    reg = registry.load()
    c = reg.get("410329")
    write_export(settings.landing, "410329", "410329-20190314-01", "2019-03-14", slice_rows())
    assert not deadlines.arrived(c, dt.date(2019, 3, 15), clean, reg)
    write_export(settings.landing, "410329", "410329-20190315-01", "2019-03-15", slice_rows())
    reads = inbox._night_of.cache_info().misses
    assert deadlines.arrived(c, dt.date(2019, 3, 15), clean, reg)
    assert inbox._night_of.cache_info().misses == reads + 1, "only the new export's manifest is read"
    assert deadlines.arrived(c, dt.date(2019, 3, 15), clean, reg)
    assert inbox._night_of.cache_info().misses == reads + 1
    assert sorted(p.name for p in (settings.landing / "410329").iterdir()) == ["410329-20190314-01", "410329-20190315-01"]
    assert query(clean, "SELECT count(*) FROM audit.batches") == [(0,)]
