"""Published editions (xuncha.metrics.editions, migration 0151): kept as published, compared with today, recomputed.

World: tests/mart_world.py's 嵩县 410325 over 2018. An edition of 2018-06-30 is published; then a late export of
night 2018-06-20 (a clue transferred that day), a corrected export of night 2018-06-30 (task T1 done on 06-25)
and the next night 2018-07-05 (a clue transferred after the day) are loaded.
"""

from __future__ import annotations

import datetime as dt

import mart_world
import psycopg2
import pytest
from conftest import query
from metrics_fixtures import clue, shared_world, task

from xuncha.metrics import editions
from xuncha.warehouse import db

D = dt.date.fromisoformat(mart_world.AS_OF)
C = "410325"


def build(w):
    mart_world.build(w)


loaded, world = shared_world(build)


@pytest.fixture(scope="module")
def published(loaded):
    """The edition of D, then the late, corrected and later exports; returns (edition, loaded world)."""
    loaded.refresh(mart_world.AS_OF)
    edition = editions.publish(loaded.url, D)
    loaded.night(C, "2018-06-20", clues=[clue(f"{C}-C3", f"{C}-I1", "2018-06-20")])
    loaded.night(C, mart_world.AS_OF, rectifications=[task("T1", f"{C}-I1", "2018-05-01", "done", "2018-06-25",
                                                           at="2018-06-25")])
    loaded.night(C, "2018-07-05", clues=[clue(f"{C}-C4", f"{C}-I1", "2018-07-05")])
    return edition, loaded


def test_an_edition_holds_the_figures_and_lists_of_its_day_with_time_and_checksum(published):
    edition, w = published
    assert edition.as_of == D and len(edition.checksum) == 64 and edition.published_at is not None
    assert {"term_headline", "coverage", "rectification", "clue_disposal", "satisfaction", "outcomes"} <= set(edition.figures)
    assert "freshness" not in edition.figures
    assert set(edition.lists) == {"ledger_uninspected", "ledger_rectification", "ledger_clues", "ledger_satisfaction",
                                  "ledger_outcomes"}
    assert [r["clues_transferred"] for r in edition.figures["clue_disposal"]] == [2]
    assert sorted(r["clue_id"] for r in edition.lists["ledger_clues"]) == [f"{C}-C2"]     # C1 disposed
    assert [row[6] for row in editions.listing(w.url) if row[0] == edition.edition_id] == [True], "checksum matches"


def test_a_later_report_shows_both_values_and_the_exports_that_moved_each_changed_figure(published):
    edition, w = published
    w.refresh(mart_world.AS_OF)
    same, changes = editions.compare(w.url, D)
    assert same.edition_id == edition.edition_id
    moved = {(c.mart, c.column): (c.published, c.today, c.exports) for c in changes}
    late = (f"{C}-20180620-01", C, "2018-06-20")
    corrected = (f"{C}-20180630-02", C, "2018-06-30")
    assert moved[("clue_disposal", "clues_transferred")] == (2, 3, (late, corrected))
    assert moved[("rectification", "tasks_completed")][:2] == (1, 2)
    assert moved[("rectification", "tasks_overdue")][:2] == (1, 0)
    assert all(f"{C}-20180705-01" not in [e[0] for e in c.exports] for c in changes), \
        "the next night's export changed nothing as of D"


def test_recomputing_as_known_at_the_edition_gives_exactly_its_figures_after_late_and_corrected_exports(published):
    edition, w = published
    figures, lists = editions.as_known(w.url, D, edition.known_batches)
    assert figures == edition.figures
    assert lists == edition.lists
    assert editions.known_at(w.url, edition.published_at) == list(edition.known_batches)
    # and nothing was changed by recomputing: today's figures still carry the late exports
    assert query(w.url, "SELECT count(*) FROM core.clues WHERE clue_id = %s", (f"{C}-C3",)) == [(1,)]
    now_figures, _ = editions.as_known(w.url, D, editions.known_at(w.url, dt.datetime.now(dt.timezone.utc)))
    assert [r["clues_transferred"] for r in now_figures["clue_disposal"]] == [3]


@pytest.mark.parametrize("statement", ["UPDATE published.editions SET figures = '{}'",
                                       "UPDATE published.editions SET checksum = 'x'",
                                       "DELETE FROM published.editions",
                                       "TRUNCATE published.editions"])
def test_no_role_can_change_or_remove_an_edition_not_even_the_owner(published, settings, statement):
    edition, w = published
    for url in (w.url, db.warehouse_url(settings), db.reader_url(settings)):
        with pytest.raises(psycopg2.Error):
            with db.connect(url) as conn, conn.cursor() as cur:
                cur.execute(statement)
    assert editions.get(w.url, edition.edition_id) == edition


def test_the_warehouse_sets_the_time_and_checksum_of_an_edition_not_the_client(published):
    edition, w = published
    rows = query(w.url, """INSERT INTO published.editions (as_of, published_at, known_batches, figures, lists, checksum)
                           VALUES ('2018-01-01', '2000-01-01', '{}', '{}', '{}', 'forged')
                           RETURNING published_at > now() - interval '1 hour', checksum <> 'forged',
                                     checksum = published.edition_checksum(as_of, published_at, known_batches, figures, lists)""")
    assert rows == [(True, True, True)]


def test_publish_records_the_publisher_s_name_and_the_lists_show_it_not_the_database_role(published, monkeypatch):
    from typer.testing import CliRunner

    from xuncha.cli import app

    edition, w = published
    monkeypatch.setenv("WAREHOUSE_URL", w.url)
    monkeypatch.delenv("XUNCHA_PUBLISHER", raising=False)
    res = CliRunner().invoke(app, ["report", "publish", "--as-of", mart_world.AS_OF, "--by", "王主任"])
    assert res.exit_code == 0, res.output
    row = query(w.url, "SELECT publisher, published_by FROM published.editions ORDER BY edition_id DESC LIMIT 1")[0]
    assert row[0] == "王主任" and row[1] != "王主任"          # the name as given; the role kept beside it
    assert editions.latest(w.url, D).publisher == "王主任"
    listing = CliRunner().invoke(app, ["report", "editions"], terminal_width=200)
    assert listing.exit_code == 0 and "王主任" in listing.output, listing.output
    assert [r[3] for r in editions.listing(w.url) if r[0] == edition.edition_id][0].startswith("未记录")  # before --by


def test_the_publisher_defaults_to_xuncha_publisher_then_the_os_user_and_is_never_blank(published, monkeypatch):
    import getpass

    from xuncha.cli.report import publisher

    monkeypatch.setenv("XUNCHA_PUBLISHER", "李科长")
    assert publisher(None) == "李科长" and publisher("王主任") == "王主任"
    monkeypatch.delenv("XUNCHA_PUBLISHER")
    assert publisher(None) == getpass.getuser()
    with pytest.raises(ValueError, match="blank"):
        editions.publish(published[1].url, D, by="  ")
    with pytest.raises(psycopg2.Error):                     # nor can a client store a blank name directly
        query(published[1].url, """INSERT INTO published.editions (as_of, known_batches, figures, lists, checksum,
                                   publisher) VALUES ('2018-01-01', '{}', '{}', '{}', '', ' ')""")


def test_editions_with_none_published_says_so_and_how_to_publish_one(fresh_db, monkeypatch):
    from typer.testing import CliRunner

    from xuncha.cli import app
    from xuncha.warehouse import migrate

    migrate.migrate(fresh_db)
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db)
    res = CliRunner().invoke(app, ["report", "editions"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "no edition is published yet" in res.output and "xuncha report publish" in res.output
    assert "截至日期" not in res.output and len(res.output.strip().splitlines()) == 1   # no empty table
