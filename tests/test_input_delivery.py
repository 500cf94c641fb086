"""Deliveries that must never change loaded values in silence nor block a county (issue 11, kinds 5 and 7–11).

Real exports through the real pipeline on the suite's PostgreSQL; the only injected fault is an error raised
inside our own merge step (kind 9), standing for any defect or database error while one export is published.
"""

from __future__ import annotations

import json

import pytest
from conftest import query
from inputs_kit import base_rows, finding, has_problem, night

from xuncha import registry
from xuncha.extract import connectors
from xuncha.load import county_night
from xuncha.extract import inbox
from xuncha.extract import limits
from xuncha.load import merge as loading
from xuncha.load import pipeline

C = "410302"


@pytest.fixture(scope="module")
def reg():
    return registry.default()


@pytest.fixture(scope="module")
def ingestor(warehouse, reg):
    return pipeline.Ingestor(reg, url=warehouse)


@pytest.fixture
def ingest(clean, ingestor, reg):
    def run(*dirs, county=C):   # through the county's night: the pipeline returns what happened, run alerts it
        return county_night.run(reg, county, None, url=ingestor.url, exports=[inbox.receive(d) for d in dirs],
                                ingestor=ingestor).exports
    return run


# -- 5 re-delivery --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv-utf-8", "xlsx", "jsonl"])
def test_the_same_export_id_with_other_content_is_quarantined_and_alerted_identical_is_a_no_op(fmt, settings, ingest,
                                                                                                clean, tmp_path):
    rows = base_rows(C) | {"findings": [finding(C, 1, "初报")]}
    first = night(settings.landing, C, "e1", "2021-04-11", rows, fmt)
    copy = tmp_path / "copy"
    import shutil
    shutil.copytree(first, copy)
    assert ingest(first)[0].status == "loaded"
    other = night(settings.landing, C, "e1", "2021-04-11", rows | {"findings": [finding(C, 1, "更正", "2021-04-11T11:00:00+08:00")]},
                  fmt, generated_at="2021-04-12T08:00:00+08:00")
    [r] = ingest(other)
    assert r.status == "quarantined" and has_problem(r, "export.reused", "manifest.json", "export_id")
    shutil.copytree(copy, settings.landing / C / "e1")
    assert ingest(settings.landing / C / "e1")[0].status == "duplicate"
    assert query(clean, "SELECT summary FROM core.findings") == [("初报",)]
    assert query(clean, "SELECT count(*) FROM audit.alerts WHERE kind = 'quarantined' AND message LIKE %s",
                 ("%export.reused%",)) == [(1,)]


def test_two_deliveries_of_one_export_id_in_one_run_are_told_apart(settings, ingest, clean):
    rows = base_rows(C) | {"findings": [finding(C, 1, "初报")]}
    a = night(settings.landing / "a", C, "e1", "2021-04-11", rows)
    b = night(settings.landing / "b", C, "e1", "2021-04-11", rows | {"findings": [finding(C, 1, "更正")]})
    c = night(settings.landing / "c", C, "e1", "2021-04-11", rows)
    assert [r.status for r in ingest(a, b, c)] == ["loaded", "quarantined", "duplicate"]


# -- 7 time ---------------------------------------------------------------------------------------------------------

# CSV in make test; the other formats (the same check after parsing) behind the inputs marker, in make test-inputs.
@pytest.mark.parametrize("fmt", ["csv-utf-8", *(pytest.param(f, marks=pytest.mark.inputs)
                                                for f in ("csv-gb18030", "xlsx", "jsonl"))])
def test_a_row_stamped_after_generated_at_is_quarantined_and_never_freezes_the_row(fmt, settings, ingest, clean):
    file = "findings." + ("csv" if fmt.startswith("csv") else fmt)
    bad = night(settings.landing, C, "e1", "2021-05-01", base_rows(C) | {"findings": [
        finding(C, 1, updated="2999-01-01T00:00:00+08:00")]}, fmt)
    fixed = night(settings.landing, C, "e2", "2021-05-01", base_rows(C) | {"findings": [
        finding(C, 1, "更正", updated="2021-05-01T21:00:00+08:00")]}, fmt, generated_at="2021-05-01T23:40:00+08:00")
    within = night(settings.landing, C, "e3", "2021-05-02", {"findings": [
        finding(C, 1, "容差内", updated="2021-05-02T23:35:00+08:00")]}, fmt)
    beyond = night(settings.landing, C, "e4", "2021-05-02", {"findings": [
        finding(C, 1, "超出容差", updated="2021-05-04T00:01:00+08:00")]}, fmt)   # night ends 05-03 00:00, + 1 day
    r1, r2, r3, r4 = ingest(bad, fixed, within, beyond)
    assert r1.status == "quarantined" and has_problem(r1, "row.invalid", file, "updated_at", 1), r1.problems
    assert (r2.status, r3.status) == ("loaded", "loaded")
    assert r4.status == "quarantined" and has_problem(r4, "row.invalid", file, "updated_at", 1), r4.problems
    assert query(clean, "SELECT summary FROM core.findings") == [("容差内",)]


def test_a_manifest_from_the_future_or_before_its_night_is_quarantined_and_the_watermark_stays_at_present(
        settings, ingest, clean):
    future = night(settings.landing, C, "e1", "2021-05-01", base_rows(C), generated_at="2999-01-01T00:00:00+08:00")
    early = night(settings.landing, C, "e2", "2021-05-03", base_rows(C), generated_at="2021-05-02T12:00:00+08:00")
    month13 = night(settings.landing, C, "e3", "2021-05-04", base_rows(C), generated_at="2021-13-04T12:00:00+08:00")
    later = night(settings.landing, C, "e4", "2021-05-05", base_rows(C))
    rs = ingest(future, early, month13, later)
    assert [r.status for r in rs] == ["quarantined", "quarantined", "quarantined", "loaded"]
    assert has_problem(rs[0], "manifest.time") and has_problem(rs[1], "manifest.time")
    assert has_problem(rs[2], "manifest.schema", column="generated_at")
    import datetime as dt
    connectors.advance_watermark(clean, C, dt.datetime(2999, 1, 1, tzinfo=dt.timezone.utc), "e1")
    [(mark,)] = query(clean, "SELECT watermark <= now() FROM audit.watermarks WHERE county_code = %s", (C,))
    assert mark


# -- 8 late older versions ------------------------------------------------------------------------------------------

def _round(updated, end=None):
    return {"round_id": f"{C}-R9", "term_no": 11, "round_no": 9, "round_type": "regular", "start_date": "2021-04-01",
            "end_date": end, "updated_at": updated}


def test_a_late_older_night_keeps_core_and_writes_history_at_its_own_time(settings, ingest, clean):
    newer = night(settings.landing, C, "n2", "2021-05-02", {"rounds": [_round("2021-05-02T10:00:00+08:00", "2021-05-02")]})
    older = night(settings.landing, C, "n1", "2021-05-01", {"rounds": [_round("2021-05-01T10:00:00+08:00")]},
                  generated_at="2021-05-03T09:00:00+08:00")
    assert ingest(newer)[0].status == "loaded"
    [r] = ingest(older)
    assert r.status == "loaded" and r.files[0].late == 1
    assert query(clean, "SELECT end_date::text FROM core.rounds") == [("2021-05-02",)]
    asof = "SELECT as_of::text, end_date::text FROM mart.rounds_as_of(ARRAY['2021-04-30','2021-05-01','2021-05-02']::date[]) ORDER BY 1"
    assert query(clean, asof) == [("2021-05-01", None), ("2021-05-02", "2021-05-02")]
    assert ingest(night(settings.landing, C, "n1b", "2021-05-01", {"rounds": [_round("2021-05-01T10:00:00+08:00")]},
                        generated_at="2021-05-03T10:00:00+08:00"))[0].status == "loaded"
    # history holds the closed versions only (issue 16): the late one, once; the newer is core's current row
    assert query(clean, "SELECT end_date::text FROM history.rounds") == [(None,)], "a replayed late version is not written twice"


# -- 9 poison exports -----------------------------------------------------------------------------------------------

def test_an_error_in_one_exports_publish_ends_that_export_only(settings, ingest, clean, monkeypatch):

    nights = [night(settings.landing, C, f"e{i}", f"2021-04-1{i}", base_rows(C) | {"findings": [finding(C, i)]})
              for i in (1, 2, 3)]
    real = loading.merge

    def merge(cur, entity, staging, county, lineage, batch_id):
        if entity.name == "findings":
            cur.execute(f"SELECT count(*) FROM {staging} WHERE finding_id = %s", (f"{C}-F2",))
            if cur.fetchone()[0]:
                cur.execute("SELECT 'x'::integer")    # a real database data error, inside the publish transaction
        return real(cur, entity, staging, county, lineage, batch_id)

    monkeypatch.setattr(loading, "merge", merge)
    rs = ingest(*nights)
    assert [r.status for r in rs] == ["loaded", "quarantined", "loaded"]
    assert has_problem(rs[1], "row.invalid") and "integer" in str(rs[1].problems)
    assert query(clean, "SELECT finding_id FROM core.findings ORDER BY 1") == [(f"{C}-F1",), (f"{C}-F3",)]
    assert query(clean, "SELECT count(*) FROM pg_tables WHERE schemaname = 'staging'") == [(0,)]

    def broken(*a, **k):
        raise RuntimeError("a defect of ours")

    monkeypatch.setattr(loading, "merge", broken)
    [r] = ingest(night(settings.landing, C, "e4", "2021-04-14", base_rows(C)))
    assert r.status == "failed" and has_problem(r, "export.failed")
    assert (settings.quarantine / C / "_failed" / "e4" / "_report.json").is_file()
    assert (settings.landing / C / "e4" / "manifest.json").is_file(), "left in place, retried by the next run"
    assert query(clean, "SELECT count(*) FROM audit.alerts WHERE detail->>'status' = 'failed'") == [(1,)]


def test_an_export_quarantined_before_its_group_broke_is_still_alerted(settings, ingest, clean, monkeypatch):
    """The pipeline returns what happened and the county's night alerts it; when the group cannot go on (here its
    database connection breaks while cleaning up, also in the clean-up after), what it had finished is alerted."""
    import psycopg2

    from xuncha.normalize import staging

    real = staging.drop

    def drop(conn, staged):
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM audit.batches WHERE status = 'quarantined'")
            if cur.fetchone()[0]:
                raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return real(conn, staged)

    monkeypatch.setattr(staging, "drop", drop)
    good = night(settings.landing, C, "e1", "2021-04-11", base_rows(C))
    bad = night(settings.landing, C, "e2", "2021-04-12", base_rows(C) | {"findings": [finding(C, 1, "超长摘要" * 2500)]})
    try:
        with pytest.raises(psycopg2.OperationalError):
            ingest(good, bad)
        assert query(clean, "SELECT export_id, status FROM audit.batches ORDER BY batch_id") == [("e1", "loaded"), ("e2", "quarantined")]
        assert query(clean, "SELECT kind, detail->>'export_id' FROM audit.alerts") == [("quarantined", "e2")]
    finally:   # the broken clean-up left the group's staging tables: the tests after this one expect none
        for (table,) in query(clean, "SELECT tablename FROM pg_tables WHERE schemaname = 'staging'"):
            query(clean, f"DROP TABLE staging.{table}")


def test_a_batch_left_received_by_a_killed_process_is_marked_and_its_staging_dropped(settings, ingest, clean):
    [(stale,)] = query(clean, "INSERT INTO audit.batches (export_id, county_code, source, status) VALUES ('x', %s, 'killed', 'received') "
                              "RETURNING batch_id", (C,))
    query(clean, f"CREATE UNLOGGED TABLE staging.b{stale}_findings (row_no bigint)")
    assert ingest(night(settings.landing, C, "e1", "2021-04-11", base_rows(C)))[0].status == "loaded"
    assert query(clean, "SELECT status FROM audit.batches WHERE batch_id = %s", (stale,)) == [("failed",)]
    assert query(clean, "SELECT count(*) FROM pg_tables WHERE tablename = %s", (f"b{stale}_findings",)) == [(0,)]


# -- 10 size limits, 11 escaping ------------------------------------------------------------------------------------

def test_size_limits_are_checked_before_the_work_and_reports_quote_bounded_excerpts(settings, ingest, clean, monkeypatch):
    long = "超长摘要" * 2500
    big = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [finding(C, 1, long)]})
    [r] = ingest(big)
    assert r.status == "quarantined" and has_problem(r, "row.invalid", "findings.csv", "summary", 1)
    for p in (r.moved_to / "_report.json", r.moved_to / "_report.md"):
        assert "超长摘要" * 60 not in p.read_text(encoding="utf-8")
    [(msg, detail)] = query(clean, "SELECT message, detail::text FROM audit.alerts")
    assert len(msg) <= 1001 and "超长摘要" * 60 not in msg + detail
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    [r] = ingest(night(settings.landing, C, "e2", "2021-04-12", base_rows(C) | {"findings": [finding(C, 2)]}))
    assert r.status == "quarantined" and has_problem(r, "file.size", "findings.csv")


def test_an_xlsx_that_unpacks_far_beyond_its_size_is_refused_unopened(settings, ingest, monkeypatch, tmp_path):
    import zipfile

    from inputs_kit import xlsx_bytes
    bomb = tmp_path / "bomb.xlsx"    # a part of 64 MiB of spaces: about 1000 : 1
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b" " * (64 << 20))
    big = xlsx_bytes("findings", [finding(C, n, f"第{n}条问题摘要") for n in range(1, 200)])
    monkeypatch.setattr(limits, "MAX_XLSX_UNCOMPRESSED", 20_000)
    r1, r2 = ingest(night(settings.landing, C, "e1", "2021-04-11", base_rows(C),
                          raw={"findings": ("xlsx", None, bomb.read_bytes(), 1)}),
                    night(settings.landing, C, "e2", "2021-04-12", base_rows(C),
                          raw={"findings": ("xlsx", None, big, 199)}))
    assert r1.status == "quarantined" and has_problem(r1, "file.size", "findings.xlsx"), r1.problems
    assert "compressed" in str(r1.problems)
    assert r2.status == "quarantined" and has_problem(r2, "file.size", "findings.xlsx"), r2.problems


@pytest.mark.parametrize("fmt", ["csv-utf-8", "xlsx", "jsonl"])
def test_reports_and_data_docs_never_carry_a_countys_markup(fmt, settings, ingest, clean):
    tag = "<script>alert('xss')</script>"
    d = night(settings.landing, C, "e1", "2021-04-11", base_rows(C) | {"findings": [
        finding(C, 1, category=tag), finding(C, 2, f"[x](javascript:alert(1)) | {tag}", finding_id=f"{C}-F1")]}, fmt)
    [r] = ingest(d)
    assert r.status == "quarantined" and has_problem(r, "row.invalid", column="category")
    md = (r.moved_to / "_report.md").read_text(encoding="utf-8")
    js = (r.moved_to / "_report.json").read_text(encoding="utf-8")
    assert "<script" not in md and "<script" not in js and "](javascript" not in md
    assert tag in json.dumps(json.loads(js), ensure_ascii=False)   # the value itself, as text
    pages = list(settings.home.glob("data_docs/**/*.html"))
    assert pages
    for page in pages:
        assert tag not in page.read_text(encoding="utf-8", errors="replace"), page
