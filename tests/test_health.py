"""The hourly health DAG in a real Airflow run: freshness per county, incidents opened once and notified through
Airflow's notifiers, the run failed (its log leading with the list) while a critical incident is unacknowledged."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import query

from xuncha.monitor import incidents
from xuncha.orchestration import env as airflow_env
from xuncha.warehouse import db


@pytest.mark.slow
def test_health_run_fails_while_a_critical_incident_is_unacknowledged_and_notifies_each_once(clean, airflow_ready,
                                                                                            chat_robot, tmp_path):
    robot_env, robot = chat_robot
    yesterday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    with db.connect(clean) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE mart.clue_disposal, mart.rectification")
        cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, source, status, finished_at)
                       VALUES ('410329-x', '410329', %s, 'test', 'loaded', now()),
                              ('410326-x', '410326', %s, 'test', 'loaded', now())""", (yesterday, yesterday - dt.timedelta(days=4)))
        cur.execute("INSERT INTO audit.deadline_misses (county_code, business_date, deadline_at) VALUES ('410327', %s, now())",
                    (yesterday,))
    log = tmp_path / "health-1.log"
    with pytest.raises(RuntimeError, match="failed"):
        airflow_env.dags_test("xuncha_health", dt.datetime.now(dt.timezone.utc).isoformat(), env=robot_env, log=log)

    ages = dict(query(clean, "SELECT county_code, age_nights FROM mart.freshness WHERE county_code IN ('410329', '410326')"))
    assert ages == {"410329": 0, "410326": 4}
    open_ = {(i["kind"], i["county_code"]) for i in incidents.listing(clean)}
    assert ("stale", "410326") in open_ and ("missing", "410327") in open_
    assert not any(code == "410329" for _, code in open_), "an up-to-date county has no incident"
    assert not any(code in ("410381", "410306", "410322") for _, code in open_), "codes no longer in use are not judged"
    texts = [m["body"]["text"]["content"] for m in robot]
    assert len(texts) == len(open_), "one message per incident opened"
    assert any("汝阳县 410326" in t and "stale" in t for t in texts)
    text = log.read_text(encoding="utf-8")
    lead = text[text.index("critical incident(s) open and not acknowledged"):]
    assert "[stale] 汝阳县 410326" in lead.split("finding(s):")[0], "the log leads with the blocking list"

    for i in incidents.listing(clean):
        incidents.ack(clean, i["incident_id"], "tester", "on it")
    airflow_env.dags_test("xuncha_health", dt.datetime.now(dt.timezone.utc).isoformat(), env=robot_env,
                          log=tmp_path / "health-2.log")
    assert len(robot) == len(texts), "acknowledged incidents that persist send nothing more"
    assert query(clean, "SELECT max(seen_count) FROM audit.incidents") == [(2,)]
