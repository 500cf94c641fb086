"""One export through the pipeline (manifest → staging → Great Expectations → core) on a real PostgreSQL."""

from __future__ import annotations

import json

import pytest
from conftest import query, row_counts
from exports import slice_rows, write_export

from xuncha import registry
from xuncha.load import pipeline
from xuncha.normalize.privacy import PersonHasher

COUNTY = "410325"


@pytest.fixture(scope="module")
def reg():
    return registry.default()


@pytest.fixture
def ingest(clean, reg, settings):
    ingestor = pipeline.Ingestor(reg, url=clean)

    def run(export_dir, county=COUNTY):
        return ingestor.ingest(export_dir, reg.get(county))

    return run


def land(settings, export_id, day, rows, county=COUNTY, **kw):
    return write_export(settings.landing, county, export_id, day, rows, **kw)


def core_findings(url):
    return query(url, "SELECT county_code, finding_id, inspection_id, category, found_date::text, summary, updated_at "
                      "FROM core.findings ORDER BY 1, 2")


def test_an_export_loads_into_core_with_history_and_audit(ingest, settings, clean):
    r = ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    assert r.status == "loaded", r.problems
    assert query(clean, "SELECT count(*) FROM core.findings")[0][0] == 6
    assert query(clean, "SELECT count(*) FROM core.inspections")[0][0] == 2
    assert query(clean, "SELECT count(*) FROM history.findings") == [(0,)], "a fresh insert is written once, to core"
    batch = query(clean, "SELECT status, declared_rows, loaded_rows FROM audit.batches WHERE batch_id = %s", (r.batch_id,))
    assert batch == [("loaded", 11, 11)]
    files = query(clean, "SELECT entity, declared_rows, staged_rows, inserted_rows FROM audit.batch_files "
                         "WHERE batch_id = %s ORDER BY entity", (r.batch_id,))
    assert files == [("findings", 6, 6, 6), ("inspections", 2, 2, 2), ("org_units", 2, 2, 2), ("rounds", 1, 1, 1)]
    assert query(clean, "SELECT count(*) FROM audit.validation_results WHERE batch_id = %s AND NOT success",
                 (r.batch_id,)) == [(0,)]
    assert (settings.archive / COUNTY / "2019-03-15" / "410325-20190315-01" / "manifest.json").exists()
    assert not list(settings.landing.glob("*/*"))
    assert query(clean, "SELECT count(*) FROM pg_tables WHERE schemaname = 'staging'") == [(0,)]


def test_a_re_sent_export_changes_nothing(ingest, settings, clean):
    ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    before = row_counts(clean), core_findings(clean)
    r = ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    assert r.status == "duplicate"
    assert (row_counts(clean), core_findings(clean)) == before


def test_the_same_rows_under_a_new_export_id_change_nothing(ingest, settings, clean):
    ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    before = row_counts(clean)
    r = ingest(land(settings, "410325-20190315-02", "2019-03-15", slice_rows()))
    assert r.status == "loaded"
    assert sum(f.unchanged for f in r.files) == 11 and not r.entities
    assert row_counts(clean) == before


def test_a_gb18030_file_loads_the_same_rows_as_its_utf8_twin(ingest, settings, clean):
    ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    utf8 = core_findings(clean)
    raw = (settings.archive / COUNTY / "2019-03-15" / "410325-20190315-01" / "findings.csv").read_bytes()
    query(clean, "TRUNCATE core.findings, history.findings, core.inspections, core.rounds, audit.batches CASCADE")
    d = land(settings, "410325-20190315-01", "2019-03-15", slice_rows(), encoding={"findings": "gb18030"})
    gb = (d / "findings.csv").read_bytes()
    assert gb != raw and gb.decode("gb18030") == raw.decode("utf-8")
    assert ingest(d).status == "loaded"
    assert core_findings(clean) == utf8
    assert "落实“两个责任”不力" in utf8[0][5]


@pytest.mark.parametrize("fmt", ["xlsx", "jsonl"])
def test_xlsx_and_json_lines_load_the_same_rows_as_csv(ingest, settings, clean, fmt):
    ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    from_csv = core_findings(clean)
    query(clean, "TRUNCATE core.findings, history.findings, core.inspections, core.rounds, audit.batches CASCADE")
    r = ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows(),
                    fmt={"rounds": fmt, "inspections": fmt, "findings": fmt}))
    assert r.status == "loaded", r.problems
    assert core_findings(clean) == from_csv


def test_invalid_rows_quarantine_the_whole_export_with_a_precise_report(ingest, settings, clean):
    rows = slice_rows()
    rows["findings"][2]["category"] = "ZZ"
    rows["findings"][4]["found_date"] = "2019-02-30"
    r = ingest(land(settings, "410325-20190316-01", "2019-03-16", rows))
    assert r.status == "quarantined"
    assert row_counts(clean)["core.rounds"] == 0 and row_counts(clean)["core.findings"] == 0
    found = {(p.file, p.row, p.column, p.value) for p in r.problems}
    assert found == {("findings.csv", 3, "category", "ZZ"), ("findings.csv", 5, "found_date", "2019-02-30")}
    qdir = settings.quarantine / COUNTY / "410325-20190316-01"
    report = json.loads((qdir / "_report.json").read_text(encoding="utf-8"))
    assert report["county_code"] == COUNTY and report["county_name"] == "嵩县"
    assert {(p["row"], p["column"], p["value"]) for p in report["problems"]} == {(3, "category", "ZZ"), (5, "found_date", "2019-02-30")}
    md = (qdir / "_report.md").read_text(encoding="utf-8")
    assert "数据行未通过校验" in md and "| findings.csv | 3 | category | ZZ |" in md
    assert (qdir / "findings.csv").exists() and not (settings.landing / COUNTY / "410325-20190316-01").exists()
    # Great Expectations Data Docs: the failing validation has its page on the local site, linked from the report.
    # (site-relative: the report goes to the county, which receives no platform path — issue 28)
    assert report["data_docs"].startswith("validations/findings_columns/410325-410325-20190316-01/")
    assert (settings.home / "data_docs" / report["data_docs"]).is_file()
    pages = list((settings.home / "data_docs" / "validations" / "findings_columns").rglob("*.html"))
    assert pages and any("410325-410325-20190316-01" in str(p) for p in pages)
    assert "findings_columns" in (settings.home / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert query(clean, "SELECT status FROM audit.batches WHERE batch_id = %s", (r.batch_id,)) == [("quarantined",)]


def test_a_corrected_re_export_of_a_quarantined_night_loads(ingest, settings, clean):
    rows = slice_rows()
    rows["findings"][0]["category"] = "ZZ"
    assert ingest(land(settings, "410325-20190316-01", "2019-03-16", rows)).status == "quarantined"
    # every row casts, so its publish transaction, run beside the validation, merged it all: and rolled back
    counts = row_counts(clean)
    assert counts["core.findings"] == counts["history.findings"] == counts["core.rounds"] == 0
    r = ingest(land(settings, "410325-20190316-02", "2019-03-16", slice_rows()))
    assert r.status == "loaded"
    assert row_counts(clean)["core.findings"] == 6


def test_a_finding_of_an_unknown_inspection_is_rejected_but_a_known_one_in_core_is_accepted(ingest, settings, clean):
    rows = slice_rows()
    orphan = {"findings": [dict(rows["findings"][0], finding_id="410325-F9999", inspection_id="410325-I404")]}
    r = ingest(land(settings, "410325-20190316-01", "2019-03-16", orphan))
    assert r.status == "quarantined"
    assert [(p.rule.split(":")[0], p.row, p.column, p.value) for p in r.problems] == [("row.reference", 1, "inspection_id", "410325-I404")]
    assert ingest(land(settings, "410325-20190316-02", "2019-03-16", rows)).status == "loaded"
    later = {"findings": [dict(rows["findings"][0], finding_id="410325-F0100", updated_at="2019-03-17T09:00:00+08:00")]}
    assert ingest(land(settings, "410325-20190317-01", "2019-03-17", later)).status == "loaded"


def test_an_older_row_never_overwrites_a_newer_one(ingest, settings, clean):
    new = slice_rows(updated="2019-03-17T20:00:00+08:00")
    new["findings"][0]["summary"] = "newer text"
    ingest(land(settings, "410325-20190317-01", "2019-03-17", new))
    old = slice_rows(updated="2019-03-15T20:00:00+08:00")
    old["findings"][0]["summary"] = "older text"
    r = ingest(land(settings, "410325-20190315-01", "2019-03-15", old))
    assert r.status == "loaded" and not r.entities
    assert query(clean, "SELECT summary FROM core.findings WHERE finding_id = '410325-F0001'") == [("newer text",)]
    newer = slice_rows(updated="2019-03-18T20:00:00+08:00")
    newer["findings"][0]["summary"] = "newest text"
    r = ingest(land(settings, "410325-20190318-01", "2019-03-18", {"findings": newer["findings"][:1]}))
    assert r.entities == ["findings"]
    assert query(clean, "SELECT summary FROM core.findings WHERE finding_id = '410325-F0001'") == [("newest text",)]
    # The older night changed core nothing, but its version is history at its own time (export spec §4.7); the
    # version the newest superseded moved there; the newest is core's current row only (issue 16).
    assert query(clean, "SELECT change, summary FROM history.findings WHERE finding_id = '410325-F0001' ORDER BY updated_at") == [
        ("update", "older text"), ("insert", "newer text")]


def test_a_full_snapshot_withdraws_rows_it_no_longer_holds(ingest, settings, clean):
    ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows()))
    snap = slice_rows()
    snap["findings"] = snap["findings"][:4]
    r = ingest(land(settings, "410325-20190316-01", "2019-03-16", {"findings": snap["findings"]}, mode="full"))
    assert r.status == "loaded"
    assert r.files[0].withdrawn == 2
    live = query(clean, "SELECT count(*) FILTER (WHERE withdrawn_at IS NULL), count(*) FROM core.findings")
    assert live == [(4, 6)]
    # the withdrawn versions are core's rows; the live versions they superseded moved to history, once each
    assert query(clean, "SELECT change, withdrawn_at IS NULL, count(*) FROM history.findings GROUP BY 1, 2") == [("insert", True, 2)]
    assert query(clean, "SELECT count(*) FROM core.inspections WHERE withdrawn_at IS NULL") == [(2,)]  # not in the snapshot: untouched


@pytest.mark.parametrize("fault, rule", [
    ("checksum", "file.sha256"), ("rows", "file.rows"), ("missing", "file.missing"), ("county", "manifest.county"),
    ("encoding", "file.encoding"), ("drift", "file.columns"), ("schema", "manifest.schema"),
])
def test_broken_deliveries_are_quarantined_naming_file_and_rule(ingest, settings, clean, fault, rule):
    d = land(settings, "410325-20190315-01", "2019-03-15", slice_rows())
    m = json.loads((d / "manifest.json").read_text())
    findings = next(f for f in m["files"] if f["entity"] == "findings")
    if fault == "checksum":
        findings["sha256"] = "0" * 64
    elif fault == "rows":
        findings["rows"] += 1
    elif fault == "missing":
        (d / "findings.csv").unlink()
    elif fault == "county":
        m["county_code"] = "410326"
    elif fault == "encoding":
        (d / "findings.csv").write_bytes((d / "findings.csv").read_text(encoding="utf-8").encode("gb18030"))
        findings["sha256"] = __import__("hashlib").sha256((d / "findings.csv").read_bytes()).hexdigest()
    elif fault == "drift":
        text = (d / "findings.csv").read_text(encoding="utf-8").replace("category", "problem_category", 1)
        (d / "findings.csv").write_text(text, encoding="utf-8", newline="")
        findings["sha256"] = __import__("hashlib").sha256((d / "findings.csv").read_bytes()).hexdigest()
    elif fault == "schema":
        m["mode"] = "partial"
    (d / "manifest.json").write_text(json.dumps(m))
    r = ingest(d)
    assert r.status == "quarantined"
    assert rule in {p.rule for p in r.problems}, r.problems
    p = next(p for p in r.problems if p.rule == rule)
    assert p.file in ("findings.csv", "manifest.json")
    if fault == "encoding":
        assert p.row is not None and p.row >= 1
    if fault == "drift":
        assert p.column in ("problem_category", "category")
    assert row_counts(clean)["core.rounds"] == 0
    assert (settings.quarantine / COUNTY / "410325-20190315-01" / "_report.md").exists()


def test_person_references_are_hashed_and_names_or_id_numbers_quarantine(ingest, settings, clean):
    rows = slice_rows()
    clue = {"clue_id": "410325-C1", "inspection_id": "410325-I1", "recipient": "discipline", "transfer_date": "2019-03-15",
            "disposal_method": None, "closed_date": None, "updated_at": "2019-03-15T20:00:00+08:00"}
    outcome = {"outcome_id": "410325-X1", "clue_id": "410325-C1", "person_ref": "P-7f3a9c", "outcome_type": "sanction",
               "person_rank": "township", "decision_date": "2019-03-15", "amount_recovered": "12000.50",
               "updated_at": "2019-03-15T20:00:00+08:00"}
    rows.update(clues=[clue], case_outcomes=[outcome])
    assert ingest(land(settings, "410325-20190315-01", "2019-03-15", rows)).status == "loaded"
    stored = query(clean, "SELECT person_ref, amount_recovered::text FROM core.case_outcomes")
    expected = PersonHasher(b"test-person-key-0123456789abcdef", COUNTY).hash("P-7f3a9c")
    assert stored == [(expected, "12000.50")] and "P-7f3a9c" not in stored[0][0]
    for n, (bad, shown) in enumerate((("张三丰", "张*丰"), ("410325198807150012", "4****************2"))):
        r = ingest(land(settings, f"410325-20190316-0{n}", "2019-03-16",
                        {"case_outcomes": [dict(outcome, outcome_id="410325-X2", person_ref=bad)]}))
        assert r.status == "quarantined"
        [p] = r.problems
        assert (p.rule, p.file, p.row, p.column, p.value) == ("person.clear", "case_outcomes.csv", 1, "person_ref", shown)
    dump = query(clean, "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM core.case_outcomes) t")[0][0]
    assert "张三丰" not in dump and "410325198807150012" not in dump


def test_a_group_of_nights_loads_like_one_night_at_a_time_and_a_bad_night_is_pinned_on_its_own_export(clean, reg, settings):
    """Catch-up validates many exports at once; a failure falls back to one-by-one, naming the one bad export."""
    night1 = slice_rows(updated="2019-03-15T20:00:00+08:00")
    night2 = {"findings": [dict(night1["findings"][0], finding_id="410325-F0100", updated_at="2019-03-16T20:00:00+08:00")]}
    bad = {"findings": [dict(night1["findings"][0], finding_id="410325-F0200", category="XX", updated_at="2019-03-17T20:00:00+08:00")]}
    # Night 4 refers to an inspection only night 1 (same group, not yet in core at validation time) delivers.
    night4 = {"findings": [dict(night1["findings"][1], finding_id="410325-F0300", updated_at="2019-03-18T20:00:00+08:00")]}
    dirs = [land(settings, f"410325-2019031{5 + i}-01", f"2019-03-1{5 + i}", rows)
            for i, rows in enumerate([night1, night2, bad, night4])]
    results = pipeline.Ingestor(reg, url=clean).ingest_many(dirs, reg.get(COUNTY))
    assert [r.status for r in results] == ["loaded", "loaded", "quarantined", "loaded"]
    assert [(p.row, p.column, p.value) for p in results[2].problems] == [(1, "category", "XX")]
    assert query(clean, "SELECT count(*) FROM core.findings") == [(8,)]
    # Audit has per-export validation results, as for single exports.
    per_batch = query(clean, "SELECT batch_id, bool_and(success) FROM audit.validation_results GROUP BY 1 ORDER BY 1")
    assert [ok for _, ok in per_batch] == [True, True, False, True]


def counting_validations(reg, url, monkeypatch):
    """A new Ingestor whose GX validations are recorded: (ingestor, the entity of each validation run, in order)."""
    ingestor = pipeline.Ingestor(reg, url=url)
    calls: list[str] = []
    real = ingestor.validator.validate
    monkeypatch.setattr(ingestor.validator, "validate", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    return ingestor, calls


def test_a_clean_group_is_validated_once_and_recorded_per_export(clean, reg, settings, monkeypatch):
    dirs = [land(settings, f"410325-2019031{5 + i}-01", f"2019-03-1{5 + i}", slice_rows(updated=f"2019-03-1{5 + i}T20:00:00+08:00"))
            for i in range(3)]
    ingestor, calls = counting_validations(reg, clean, monkeypatch)
    results = ingestor.ingest_many(dirs, reg.get(COUNTY))
    assert [r.status for r in results] == ["loaded"] * 3
    assert sorted(calls) == ["findings", "inspections", "org_units", "rounds"], "one GX run per entity for the whole group"
    counts = query(clean, "SELECT batch_id, entity, max(element_count) FROM audit.validation_results GROUP BY 1, 2 ORDER BY 1, 2")
    assert [(e, n) for _, e, n in counts] == [("findings", 6), ("inspections", 2), ("org_units", 2), ("rounds", 1)] * 3
    # three nights of the same 6 rows: core holds the third, history the two each superseded (issue 16)
    assert query(clean, "SELECT change, count(*) FROM history.findings GROUP BY 1 ORDER BY 1") == [("insert", 6), ("update", 6)]


def test_a_group_whose_only_failures_are_warnings_is_validated_once_and_warned_per_export(clean, reg, settings, monkeypatch):
    """Issue 16: warnings quarantine nothing, so the group is not bisected; each warning still names its own export."""
    nights = [slice_rows(updated=f"2019-03-1{5 + i}T20:00:00+08:00") for i in range(3)]
    for i in (0, 2):   # end_date before start_date: a warning (rounds.json), the export loads
        nights[i]["rounds"][0]["end_date"] = f"2019-02-0{1 + i}"
    dirs = [land(settings, f"410325-2019031{5 + i}-01", f"2019-03-1{5 + i}", rows) for i, rows in enumerate(nights)]
    ingestor, calls = counting_validations(reg, clean, monkeypatch)
    results = ingestor.ingest_many(dirs, reg.get(COUNTY))
    assert [r.status for r in results] == ["loaded"] * 3
    assert sorted(calls) == ["findings", "inspections", "org_units", "rounds"], "one GX run per entity, no bisection"
    assert [[(p.file, p.row, p.column, p.value, p.severity) for p in r.warnings] for r in results] == [
        [("rounds.csv", 1, "end_date", "2019-02-01", "warning")], [], [("rounds.csv", 1, "end_date", "2019-02-03", "warning")]]
    failed = query(clean, "SELECT batch_id, unexpected_count, sample FROM audit.validation_results "
                          "WHERE NOT success ORDER BY 1")
    assert [(n, s) for _, n, s in failed] == [(1, [{"row": 1, "value": "2019-02-01"}]), (1, [{"row": 1, "value": "2019-02-03"}])]
    assert query(clean, "SELECT count(DISTINCT batch_id), min(element_count) FROM audit.validation_results "
                        "WHERE entity = 'rounds'") == [(3, 1)]


def test_the_same_export_delivered_twice_in_one_group_loads_once(clean, reg, settings):
    a = land(settings, "410325-20190315-01", "2019-03-15", slice_rows())
    b = settings.landing / COUNTY / "410325-20190315-01-resent"
    import shutil

    shutil.copytree(a, b)
    results = pipeline.Ingestor(reg, url=clean).ingest_many([a, b], reg.get(COUNTY))
    assert [r.status for r in results] == ["loaded", "duplicate"]
    assert query(clean, "SELECT count(*) FROM core.findings") == [(6,)]


def test_a_countys_rows_live_in_its_own_partitions(ingest, settings, clean):
    # rows written before the county had partitions (e.g. by hand) sit in the DEFAULT partition and move in
    query(clean, "INSERT INTO core.findings (county_code, finding_id, inspection_id, category, found_date, summary, "
                 "updated_at, batch_id) VALUES ('X0014', 'F-OLD', 'I-OLD', 'SL1', '2019-01-02', 's', now(), 0)")
    assert query(clean, "SELECT count(*) FROM core.findings_default") == [(1,)]
    assert ingest(land(settings, "410325-20190315-01", "2019-03-15", slice_rows())).status == "loaded"
    assert query(clean, "SELECT tableoid::regclass::text, count(*) FROM core.findings GROUP BY 1 ORDER BY 1") == [
        ("core.findings_410325", 6), ("core.findings_default", 1)]
    # history gets rows once a newer night supersedes them (issue 16): into the county's partition too
    assert ingest(land(settings, "410325-20190316-01", "2019-03-16",
                       slice_rows(updated="2019-03-16T20:00:00+08:00"))).status == "loaded"
    assert query(clean, "SELECT tableoid::regclass::text, count(*) FROM history.findings GROUP BY 1") == [
        ("history.findings_410325", 6)]
    assert query(clean, "SELECT core.add_county('X0014'), core.add_county('X0014')") == [(True, False)]
    assert query(clean, "SELECT tableoid::regclass::text, finding_id FROM core.findings WHERE county_code = 'X0014'") == [
        ("core.findings_x0014", "F-OLD")]


def test_a_key_sent_twice_in_one_file_quarantines_the_export_naming_the_repeat(ingest, settings, clean):
    rows = slice_rows()
    again = dict(rows["findings"][1], summary="同一问题又报一次")
    rows["findings"].append(again)                                   # data row 7 repeats row 2's key
    r = ingest(land(settings, "410325-20190316-01", "2019-03-16", rows))
    assert r.status == "quarantined"
    assert [(p.rule.split(":")[0], p.file, p.row, p.column, p.value) for p in r.problems] == [
        ("row.invalid", "findings.csv", 7, "finding_id", again["finding_id"])]
    assert row_counts(clean)["core.findings"] == 0
