"""The slice through real Airflow DAG runs (`airflow dags test`) on the suite's embedded server."""

from __future__ import annotations

import pytest
from conftest import query, row_counts
from exports import slice_rows, write_export

from xuncha import airflow_env

RUN_AT = "2019-03-17T03:00:00+08:00"  # covers the night of 2019-03-16


def land_night(settings):
    write_export(settings.landing, "410325", "410325-20190315-01", "2019-03-15", slice_rows("410325"))
    write_export(settings.landing, "410326", "410326-20190316-01", "2019-03-16",
                 slice_rows("410326", n_findings=9, updated="2019-03-16T20:00:00+08:00"), encoding={"findings": "gb18030"})
    bad = slice_rows("410327")
    bad["findings"][1]["category"] = "XX"
    write_export(settings.landing, "410327", "410327-20190316-01", "2019-03-16", bad)
    # A night after the run's night waits for its own run.
    write_export(settings.landing, "410325", "410325-20190317-01", "2019-03-17",
                 {"findings": [dict(slice_rows("410325")["findings"][0], finding_id="410325-F0777",
                                    updated_at="2019-03-17T20:00:00+08:00")]})


@pytest.mark.slow
def test_nightly_and_marts_dags_load_the_night_and_a_second_run_changes_nothing(clean, airflow_ready, settings):
    land_night(settings)
    airflow_env.dags_test("xuncha_nightly", RUN_AT)
    airflow_env.dags_test("xuncha_marts", RUN_AT)

    assert query(clean, "SELECT county_code, count(*) FROM core.findings GROUP BY 1 ORDER BY 1") == [("410325", 6), ("410326", 9)]
    assert query(clean, "SELECT county_code, export_id, status FROM audit.batches ORDER BY 1") == [
        ("410325", "410325-20190315-01", "loaded"),
        ("410326", "410326-20190316-01", "loaded"),
        ("410327", "410327-20190316-01", "quarantined"),
    ]
    assert (settings.quarantine / "410327" / "410327-20190316-01" / "_report.md").exists()
    assert (settings.landing / "410325" / "410325-20190317-01").exists(), "a later night must wait for its own run"
    # Night of 2019-03-16: 410326 and 410327 delivered; everyone else missed the 06:00 deadline, recorded and alerted once.
    misses = {r[0] for r in query(clean, "SELECT county_code FROM audit.deadline_misses WHERE business_date = '2019-03-16'")}
    assert "410325" in misses and not misses & {"410326", "410327"} and len(misses) == 15
    alerts = dict(query(clean, "SELECT kind, count(*) FROM audit.alerts GROUP BY 1"))
    assert alerts == {"deadline_missed": 15, "quarantined": 1}
    mart = query(clean, "SELECT county_code, category, findings FROM mart.findings_by_category ORDER BY 1, 2")
    assert mart == [("410325", "SJ1", 2), ("410325", "SJ2", 2), ("410325", "SL1", 2),
                    ("410326", "SJ1", 3), ("410326", "SJ2", 3), ("410326", "SL1", 3)]

    before = row_counts(clean)
    land_night(settings)  # the counties send the same night again
    airflow_env.dags_test("xuncha_nightly", RUN_AT)
    airflow_env.dags_test("xuncha_marts", RUN_AT)
    assert row_counts(clean) == before
    statuses = query(clean, "SELECT status, count(*) FROM audit.batches GROUP BY 1 ORDER BY 1")
    assert statuses == [("duplicate", 2), ("loaded", 2), ("quarantined", 2)]
    assert query(clean, "SELECT count(*) FROM audit.deadline_misses") == [(15,)], "a miss is recorded once"
