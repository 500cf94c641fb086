"""The hourly health DAG: freshness per county, findings recorded once and sent through Airflow's notifiers."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import query

from xuncha.orchestration import env as airflow_env
from xuncha.warehouse import db


@pytest.mark.slow
def test_health_dag_refreshes_freshness_and_notifies_stale_and_missing_counties(clean, airflow_ready, chat_robot):
    robot_env, robot = chat_robot
    yesterday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    with db.connect(clean) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.batches (export_id, county_code, business_date, source, status, finished_at)
                       VALUES ('410329-x', '410329', %s, 'test', 'loaded', now()),
                              ('410326-x', '410326', %s, 'test', 'loaded', now())""", (yesterday, yesterday - dt.timedelta(days=4)))
        cur.execute("INSERT INTO audit.deadline_misses (county_code, business_date, deadline_at) VALUES ('410327', %s, now())",
                    (yesterday,))
    airflow_env.dags_test("xuncha_health", dt.datetime.now(dt.timezone.utc).isoformat(), env=robot_env)

    ages = dict(query(clean, "SELECT county_code, age_nights FROM mart.freshness WHERE county_code IN ('410329', '410326')"))
    assert ages == {"410329": 0, "410326": 4}
    [message] = [m["body"]["text"]["content"] for m in robot]
    assert "[stale] 汝阳县 410326" in message and "[deadline_missed] 宜阳县 410327" in message
    assert "410329" not in message, "an up-to-date county is not reported"
    kinds = dict(query(clean, "SELECT kind, count(*) FROM audit.alerts WHERE detail->>'source' = 'health' GROUP BY 1"))
    assert kinds["deadline_missed"] == 1 and kinds["stale"] >= 2
