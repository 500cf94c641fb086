"""Every fault the synthetic county systems can inject, through the ingestion pipeline.

The tiny profile with all faults is generated once; each county's nights are ingested oldest first, in groups,
through the same entry point as a county DAG's ingest task (xuncha.load.county_night.run). Then, per injected
fault (listed in truth.json): the faulty export is quarantined with a report naming the rule (and the row and
column where there is one), the other counties' exports of that night load, and the corrected re-export loads
afterwards.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import query

from xuncha import registry
from xuncha.load import county_night
from xuncha.extract import inbox
from xuncha.load import pipeline
from xuncha.monitor import health, incidents
from xuncha.monitor.findings import LOCAL
from xuncha_sim.generator import generate
from xuncha.spec import ENTITY_ORDER

pytestmark = pytest.mark.slow   # make test-e2e (in CI)


@pytest.fixture(scope="module")
def faulty_run(warehouse, settings, tmp_path_factory):
    from xuncha.warehouse import db

    out = tmp_path_factory.mktemp("faulty-systems")
    truth = generate(out, profile="tiny", faults=["all"], progress=False)
    tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
    tables += [r[0] for r in query(warehouse, "SELECT format('mart.%I', tablename) FROM pg_tables WHERE schemaname = 'mart'")]
    with db.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)}, audit.batches, audit.batch_files, audit.batch_reach, audit.validation_results, audit.alerts")
        cur.execute("TRUNCATE audit.incidents, audit.notifications")
    reg = registry.load()
    ingestor = pipeline.Ingestor(reg, url=warehouse, move=False)
    results = {}
    at = dt.datetime.combine(TERM_END + dt.timedelta(days=1), dt.time(2), LOCAL)
    # Predecessors first, as the successor's county task does (2021 code changes); a quarantine opens its incident
    # as that task does (xuncha.monitor.health.on_quarantine), its notices recorded at the edge.
    for unit in sorted((p for p in out.iterdir() if p.is_dir()), key=lambda p: (len(reg.lineage(p.name)), p.name)):
        night = county_night.run(reg, unit.name, None, url=warehouse, exports=inbox.find(unit), ingestor=ingestor,
                                 on_quarantine=lambda c: QUARANTINE_CALLS.append(c) or health.on_quarantine(
                                     warehouse, reg, c, lambda aud, subject, text: [("test", aud.key, None)], now=at))
        for r in night.exports:
            results.setdefault(r.export_id, []).append(r)
    return truth, results


QUARANTINE_CALLS: list[str] = []
TERM_END = dt.date(2021, 4, 10)   # the tiny profile's last night


def _faults(kind: str | None = None):
    import tempfile
    from pathlib import Path

    # Fault placement is deterministic: read it from a small dry generation (no DB) to parametrize the tests.
    with tempfile.TemporaryDirectory() as d:
        truth = generate(Path(d), profile="tiny", faults=["all"], progress=False)
    return [f for f in truth["faults"] if kind is None or f["kind"] == kind]


QUARANTINE_FAULTS = [f for f in _faults() if f["expect"] == "quarantine"]


def test_every_fault_kind_was_injected(faulty_run):
    truth, _ = faulty_run
    from xuncha_sim.generator import FAULT_KINDS

    assert {f["kind"] for f in truth["faults"]} == set(FAULT_KINDS)


@pytest.mark.parametrize("fault", QUARANTINE_FAULTS, ids=lambda f: f"{f['kind']}-{f['variant'] or ''}-{f['county']}")
def test_a_faulty_export_is_quarantined_naming_rule_row_and_the_night_goes_on(faulty_run, warehouse, settings, fault):
    _, results = faulty_run
    [r] = results[fault["export_id"]]
    assert r.status == "quarantined"
    report = json.loads((settings.quarantine / fault["county"] / fault["export_id"] / "_report.json").read_text(encoding="utf-8"))
    matching = [p for p in report["problems"] if p["rule"].split(":")[0] == fault["rule"]]
    assert matching, f"expected rule {fault['rule']}, report has {[p['rule'] for p in report['problems']]}"
    if fault["file"] and fault["file"] != "manifest.json":
        assert any(p["file"] == fault["file"] for p in matching)
    if fault["row"] is not None:
        # A cross-column rule reports one of its columns; the fault's column is named in the rule either way.
        assert any(p["row"] == fault["row"] and (p["column"] == fault["column"] or fault["column"] in p["message"])
                   for p in matching), matching
    if fault["rule"] == "person.clear":
        assert fault["value"] not in json.dumps(report, ensure_ascii=False), "the report must not repeat the person data"
    # Nothing of it reached core, and the corrected re-export of the same night loaded.
    assert query(warehouse, "SELECT count(*) FROM audit.batch_files f JOIN audit.batches b USING (batch_id) "
                            "WHERE b.export_id = %s AND f.inserted_rows IS NOT NULL", (fault["export_id"],)) == [(0,)]
    [fixed] = results[fault["corrected_export_id"]]
    assert fixed.status == "loaded", fixed.problems
    # The other county systems' exports of that night loaded (unless they carry a fault of their own).
    faulty = [f["export_id"] for f in QUARANTINE_FAULTS]
    others = query(warehouse, "SELECT county_code, status FROM audit.batches WHERE business_date = %s AND county_code <> %s "
                              "AND NOT export_id = ANY(%s)", (fault["business_date"], fault["county"], faulty))
    assert others and all(status == "loaded" for _, status in others), others


def test_a_duplicate_delivery_changes_nothing(faulty_run, warehouse):
    _, results = faulty_run
    [fault] = _faults("duplicate_delivery")
    statuses = sorted(r.status for r in results[fault["export_id"]])
    assert statuses == ["duplicate", "loaded"]


def test_a_late_delivery_loads_and_never_overwrites_the_newer_night(faulty_run, warehouse):
    _, results = faulty_run
    [fault] = _faults("late_delivery")
    assert [r.status for r in results[fault["export_id"]]] == ["loaded"]
    assert [r.status for r in results[fault["next_export_id"]]] == ["loaded"]


def test_a_corrected_re_export_wins(faulty_run, warehouse):
    _, results = faulty_run
    [fault] = _faults("corrected_reexport")
    assert [r.status for r in results[fault["export_id"]]] == ["loaded"]
    assert [r.status for r in results[fault["corrected_export_id"]]] == ["loaded"]
    [(outcome_type, updated)] = query(warehouse, "SELECT outcome_type, updated_at FROM core.case_outcomes WHERE outcome_id = %s",
                                      (fault["key"],))
    assert outcome_type != fault["value"]
    assert updated == __import__("datetime").datetime.fromisoformat(fault["corrected_updated_at"])


def test_after_all_faults_core_holds_exactly_the_true_rows(faulty_run, warehouse):
    truth, _ = faulty_run
    for entity, n in truth["row_counts"].items():
        assert query(warehouse, f"SELECT count(*) FROM core.{entity} WHERE withdrawn_at IS NULL") == [(n,)], entity


def test_after_all_faults_the_marts_term_headline_equals_the_truth(faulty_run, warehouse):
    """The tiny profile's term headline, satisfaction and county rounds at the term's end equal truth.json's
    (the marts over a window that took every fault kind: nothing lost, doubled or altered reaches a figure)."""
    from test_metrics_generated import check

    truth, _ = faulty_run
    check(warehouse, truth)


def test_no_person_data_in_any_text_column_of_core_or_history(faulty_run, warehouse):
    """After the generated window (every fault kind included, the person-data ones quarantined): no national ID
    number, mobile or bank card number in any text column of core or history (staging.pii_kind, migration 0041)."""
    cols = query(warehouse, """SELECT table_schema, table_name, column_name FROM information_schema.columns
                               WHERE table_schema IN ('core', 'history') AND data_type = 'text'
                                 AND table_name IN (SELECT relname FROM pg_class WHERE NOT relispartition)""")
    assert len(cols) > 20
    loaded = query(warehouse, "SELECT count(*) FROM core.findings")[0][0]
    assert loaded > 0
    for schema, table, column in cols:
        assert query(warehouse, f'SELECT count(*) FROM {schema}.{table} WHERE staging.pii_kind("{column}") IS NOT NULL') \
            == [(0,)], f"{schema}.{table}.{column}"


def test_the_fault_world_ends_with_no_incident_of_its_counties_open(faulty_run, warehouse):
    """Incidents (issue 24) over the fault world: every county system with a quarantine fault had its quarantine
    reported to the incidents at the load (the county task's hook); each correction loaded in the same run, so no
    night stays quarantined, and the health run the morning after the window leaves no incident of a county system
    the world generates open (the registry's others, which send nothing here, are rightly stale)."""
    truth, _ = faulty_run
    assert {f["county"] for f in QUARANTINE_FAULTS} <= set(QUARANTINE_CALLS)
    reg = registry.load()
    run = health.check(warehouse, reg, lambda aud, subject, text: [("test", aud.key, None)],
                       now=dt.datetime.combine(TERM_END + dt.timedelta(days=1), dt.time(8), LOCAL))
    generated = {c for u in truth["units"] for c in reg.lineage(u["code"])}
    assert [f"{i['kind']} {i['county_code']}: {i['summary']}" for i in incidents.listing(warehouse)
            if i["county_code"] in generated] == []
    assert run.found, "the registry's silent county systems are stale: the health run did look"
