"""The metric dictionary (sql/marts/<name>.yml): one description per mart, the generated docs and COMMENT ON in
sync with it, the tables equal to it, its output checks holding on computed marts, and the read API over it."""

from __future__ import annotations

import datetime as dt
import shutil

import mart_world
import pytest
from conftest import query
from metrics_fixtures import shared_world

from xuncha.metrics import dictionary as metric_dictionary
from xuncha.metrics import marts as metrics
from xuncha.metrics.dictionary import DictionaryError

loaded, world = shared_world(mart_world.build)
DAY = dt.date.fromisoformat(mart_world.AS_OF)


def test_docs_and_comments_are_generated_from_the_descriptions():
    assert metric_dictionary.stale() == [], "run `xuncha dictionary --write`"
    docs = metric_dictionary.DOCS_PATH.read_text(encoding="utf-8")
    for m in metric_dictionary.marts().values():
        assert f"(`{m.table}`)" in docs and f"sql/marts/{m.name}.sql" in docs
        assert all(f"| `{c.name}` | {c.label} |" in docs for c in m.columns)


def test_every_mart_table_has_one_file_and_one_description_with_its_columns_and_key(warehouse):
    found = metric_dictionary.marts()
    tables = {r[0] for r in query(warehouse, """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'mart' AND c.relkind IN ('r', 'p') AND c.relname NOT IN
               ('county_crosswalk', 'refresh_log', 'refresh_watermark', 'state_horizon', 'state_horizon_batches')""")}
    assert tables == set(found)
    for m in found.values():
        cols = [r[0] for r in query(warehouse, """SELECT column_name FROM information_schema.columns
                                                    WHERE table_schema = 'mart' AND table_name = %s
                                                      AND column_name <> 'refreshed_at' ORDER BY ordinal_position""",
                                    (m.name,))]
        assert cols == [c.name for c in m.columns], m.name
        pk = [r[0] for r in query(warehouse, """
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
                                        (m.table,))]
        assert pk == list(m.key), m.name
        assert m.sql_path.name == f"{m.name}.sql" and m.sql_path.read_text(encoding="utf-8").count(f"mart.{m.name} ") >= 1


def test_the_tables_comments_are_the_descriptions(warehouse):
    got = dict(query(warehouse, """
        SELECT c.relname || coalesce('.' || a.attname, ''), d.description
          FROM pg_description d JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
         WHERE n.nspname = 'mart' AND d.classoid = 'pg_class'::regclass"""))
    for m in metric_dictionary.marts().values():
        assert got[m.name].startswith(f"{m.title} — {m.title_en}. One row = ")
        for c in m.columns:
            assert got[f"{m.name}.{c.name}"].startswith(c.label) and got[f"{m.name}.{c.name}"].endswith(
                " ".join(c.description.split())), (m.name, c.name)


def test_refresh_runs_a_mart_after_the_marts_it_depends_on():
    names = [p.stem for p in metrics.mart_files()]
    assert names.index("satisfaction_by_org") < names.index("satisfaction")
    assert sorted(names) == sorted(metric_dictionary.marts())


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("unit: share", "unit: percent", 1), "unit"),
    (lambda t: t.replace("numerator: orgs_covered", "numerator: orgs_seen"), "orgs_seen"),
    (lambda t: t.replace("name: coverage\n", "name: coverage_rate\n"), "not the file's name"),
    (lambda t: t.replace("grain:", "grane:"), "grane"),
])
def test_a_bad_description_is_refused_naming_the_file_and_the_key(tmp_path, edit, message):
    d = tmp_path / "marts"
    shutil.copytree(metric_dictionary.MARTS_DIR, d)
    (d / "coverage.yml").write_text(edit((d / "coverage.yml").read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(DictionaryError, match=message) as exc:
        metric_dictionary.marts(d)
    assert "coverage.yml" in str(exc.value)


def test_a_mart_file_without_a_description_is_refused(tmp_path):
    d = tmp_path / "marts"
    shutil.copytree(metric_dictionary.MARTS_DIR, d)
    (d / "clue_trend.sql").write_text("SELECT 1;\n")
    with pytest.raises(DictionaryError, match="clue_trend.sql: no description"):
        metric_dictionary.marts(d)


def test_every_mart_has_rows_and_passes_its_output_checks(world):
    world.refresh(mart_world.AS_OF)
    for m in metric_dictionary.marts().values():
        assert query(world.url, f"SELECT count(*) FROM {m.table}")[0][0] > 0, m.name
        for label, sql in metric_dictionary.check_queries(m):
            assert query(world.url, sql) == [(0,)], (m.name, label)


def test_an_output_check_catches_a_row_that_breaks_it(world):
    world.refresh(mart_world.AS_OF)
    query(world.url, "UPDATE mart.clue_disposal SET clues_disposed = clues_transferred + 1")
    broken = [label for label, sql in metric_dictionary.check_queries(metric_dictionary.get("clue_disposal"))
              if query(world.url, sql) != [(0,)]]
    assert "clues_disposed <= clues_transferred and disposal_rate = clues_disposed/clues_transferred" in broken


def test_read_mart_gives_the_rows_of_a_day_with_the_description(world):
    world.refresh(mart_world.AS_OF)
    assert metrics.newest_loaded_night(world.url) == DAY
    t = metrics.read_mart(world.url, "clue_disposal", DAY)
    assert t.as_of == DAY and t.mart.title == "问题线索处置"
    assert [c.name for c in t.columns] == [c.name for c in metric_dictionary.get("clue_disposal").columns]
    assert [tuple(map(str, r)) for r in t.rows] == [tuple(map(str, r)) for r in world.mart_raw("clue_disposal", DAY)]
    rec = t.records()[0]
    assert (rec["clues_transferred"], rec["clues_disposed"], str(rec["disposal_rate"])) == (2, 1, "0.5000")
    assert t.mart.column("disposal_rate").header == "办结率（%）"
    newest = metrics.read_mart(world.url, "term_headline")      # default: the newest loaded night
    assert newest.as_of == DAY and [r[1:3] for r in newest.rows] == [("city_total", "410300"), ("unit", "410325")]
    assert metrics.read_mart(world.url, "coverage", DAY - dt.timedelta(days=1)).rows == []    # not computed
    with pytest.raises(DictionaryError, match="no mart 'nope'; marts are: clue_ageing"):
        metrics.read_mart(world.url, "nope", DAY)


def test_the_cli_prints_any_mart_and_refuses_to_compute_a_day_after_the_newest_night(world):
    import subprocess
    import sys
    from pathlib import Path

    xuncha = str(Path(sys.executable).with_name("xuncha"))
    r = subprocess.run([xuncha, "metrics", "--mart", "clue_disposal", "--as-of", "2018-04-15"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "问题线索处置 — Clue disposal and 清零 as of 2018-04-15" in r.stdout and "50.00%" in r.stdout
    r = subprocess.run([xuncha, "metrics", "--mart", "coverage", "--as-of", "2018-07-01"], capture_output=True, text=True)
    assert r.returncode == 0 and f"later than the newest loaded night ({DAY})" in " ".join(r.stderr.split())
    assert query(world.url, "SELECT count(*) FROM mart.refresh_log WHERE as_of = '2018-07-01'") == [(0,)]
    assert query(world.url, "SELECT count(*) FROM mart.coverage WHERE as_of = '2018-07-01'") == [(0,)]
