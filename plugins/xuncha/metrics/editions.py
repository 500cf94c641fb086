"""Published editions (发布版本, issue 25): the figures and lists of a day as known when published, kept for good.

`publish(url, as_of)` computes every dated mart and ledger for `as_of` from the versions loaded so far (in one
REPEATABLE READ transaction, rolled back: the marts themselves are not touched) and inserts the result into
`published.editions` (migration 0151: immutable, its time and SHA-256 checksum set by the warehouse).

`as_known(url, as_of, known_batches)` answers "figures for day D as known at time T": inside a transaction that is
rolled back, it rewinds core and history to the versions the batches `known_batches` delivered (every other
batch's versions removed; a current version from a later batch replaced by the newest earlier version, which
history holds) and runs the marts' own SQL (xuncha.metrics.marts.refresh_on) on that. So an edition can be
recomputed, not only read back: `as_known(url, e.as_of, e.known_batches)` equals `e.figures` and `e.lists`.

`compare(url, as_of)` sets the newest edition of a day beside today's figures: per changed figure, both values
and the exports loaded since the edition that changed the unit's state as of that day (a version of theirs in
force by the day's end: a late or corrected export of that night or an earlier one).

Values are JSON-ready: dates ISO text, decimals their text, as the edition stores them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from xuncha.warehouse import db

NOT_EDITED = ("freshness", "findings_by_category")
"""Marts an edition does not hold: not dated series (they say how things stand now, not as of a day)."""


@dataclass(frozen=True)
class Edition:
    """One row of published.editions: figures/lists = mart name → rows (dicts of JSON values)."""
    edition_id: int
    as_of: dt.date
    published_at: dt.datetime
    published_by: str
    known_batches: tuple[int, ...]
    figures: dict
    lists: dict
    checksum: str
    publisher: str | None = None
    """发布人: the person's name given at publication (None for editions before migration 0160)."""


@dataclass(frozen=True)
class Change:
    """A figure whose edition value differs from today's: mart, the row's key (column → value), column and
    Chinese header, both values (None = no such row), and the exports (export_id, county system, night) that
    changed the unit's state as of the day since the edition."""
    mart: str
    key: dict
    column: str
    header: str
    published: object
    today: object
    exports: tuple[tuple[str, str, str], ...]


def _json(v):
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def _edited():
    from xuncha.metrics import dictionary

    return [m for m in dictionary.marts().values() if m.dated and m.name not in NOT_EDITED]


def read_day(cur, as_of: dt.date) -> tuple[dict, dict]:
    """(figures, lists) of `as_of` as the marts hold them on `cur`: every dated mart's rows in key order."""
    figures, lists = {}, {}
    for m in _edited():
        cols = [c.name for c in m.columns]
        cur.execute(f"SELECT {', '.join(cols)} FROM {m.table} WHERE as_of = %s ORDER BY {', '.join(m.key)}", (as_of,))
        rows = [{c: _json(v) for c, v in zip(cols, r)} for r in cur.fetchall()]
        (lists if m.is_ledger else figures)[m.name] = rows
    return figures, lists


def _rewind(cur, known: list[int]) -> None:
    """Core and history as they were when only the batches `known` were loaded (see the module doc)."""
    from xuncha.spec import ENTITY_ORDER, load_spec

    spec = load_spec()
    for t in ENTITY_ORDER:
        key = spec.entities[t].key
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
                    "AND table_name = %s ORDER BY ordinal_position", (t,))
        cols = ", ".join(r[0] for r in cur.fetchall())
        cur.execute(f"DELETE FROM history.{t} WHERE batch_id <> ALL(%(known)s::bigint[])", {"known": known})
        cur.execute(f"""
            WITH gone AS (DELETE FROM core.{t} WHERE batch_id <> ALL(%(known)s::bigint[]) RETURNING county_code, {key}),
            back AS (SELECT DISTINCT ON (h.county_code, h.{key}) h.tableoid AS part, h.ctid AS row_id, h.*
                       FROM history.{t} h JOIN gone g ON g.county_code = h.county_code AND g.{key} = h.{key}
                      ORDER BY h.county_code, h.{key}, h.recorded_at DESC, h.batch_id DESC),
            moved AS (DELETE FROM history.{t} h USING back b WHERE h.tableoid = b.part AND h.ctid = b.row_id)
            INSERT INTO core.{t} ({cols}) SELECT {cols} FROM back""", {"known": known})


def _loaded(cur) -> list[int]:
    cur.execute("SELECT coalesce(array_agg(batch_id ORDER BY batch_id), '{}') FROM audit.batches WHERE status = 'loaded'")
    return list(cur.fetchone()[0])


def _compute(url: str | None, as_of: dt.date, known: list[int] | None) -> tuple[list[int], dict, dict]:
    from xuncha.metrics import marts

    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        loaded = _loaded(cur)
        if known is not None:
            _rewind(cur, known)
        marts.refresh_on(cur, None, dates=[as_of])
        figures, lists = read_day(cur, as_of)
        conn.rollback()
    return (loaded if known is None else sorted(known)), figures, lists


def as_known(url: str | None, as_of: dt.date, known_batches) -> tuple[dict, dict]:
    """(figures, lists) of `as_of` recomputed from the versions the batches `known_batches` delivered (every
    other version set aside in a transaction that is rolled back: nothing changes)."""
    _, figures, lists = _compute(url, as_of, list(known_batches))
    return figures, lists


def known_at(url: str | None, at: dt.datetime) -> list[int]:
    """The batches loaded by `at` (status loaded, finished_at <= at): what the warehouse knew then."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(array_agg(batch_id ORDER BY batch_id), '{}') FROM audit.batches "
                    "WHERE status = 'loaded' AND finished_at <= %s", (at,))
        return list(cur.fetchone()[0])


def publish(url: str | None = None, as_of: dt.date | None = None, by: str | None = None) -> Edition:
    """Record the edition of `as_of` (default: the newest night loaded): every dated mart and ledger of that day
    computed now from every loaded batch, published by the person `by` (发布人; stored as published.editions.publisher,
    migration 0160; the database role goes to published_by). Returns it as stored (its id, time and checksum set by
    the warehouse). ValueError when nothing is loaded or `by` is blank."""
    if by is not None and not by.strip():
        raise ValueError("the publisher's name (--by) is blank: give the name of the person publishing")
    from psycopg2.extras import Json

    from xuncha.metrics import marts

    day = as_of or marts.latest_business_date(url)
    if day is None:
        raise ValueError("nothing is loaded: no figures to publish")
    known, figures, lists = _compute(url, day, None)
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO published.editions (as_of, known_batches, figures, lists, checksum, publisher)
                       VALUES (%s, %s, %s, %s, '', %s) RETURNING edition_id""",
                    (day, known, Json(figures), Json(lists), by.strip() if by else None))
        edition_id = cur.fetchone()[0]
    return get(url, edition_id)


_COLUMNS = "edition_id, as_of, published_at, published_by, known_batches, figures, lists, checksum, publisher"


def get(url: str | None, edition_id: int) -> Edition:
    """The edition `edition_id`; LookupError when there is none."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM published.editions WHERE edition_id = %s", (edition_id,))
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"no edition {edition_id}")
    return Edition(*row[:4], tuple(row[4]), *row[5:])


def latest(url: str | None, as_of: dt.date) -> Edition | None:
    """The newest edition of day `as_of` (None when none was published)."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM published.editions WHERE as_of = %s "
                    "ORDER BY published_at DESC, edition_id DESC LIMIT 1", (as_of,))
        row = cur.fetchone()
    return None if row is None else Edition(*row[:4], tuple(row[4]), *row[5:])


def listing(url: str | None = None) -> list[tuple]:
    """Every edition as (edition_id, as_of, published_at, publisher, batches, checksum, checksum_ok), newest
    first; publisher is the person's name (for editions before migration 0160, which have none, the words
    未记录 not recorded and the database role); checksum_ok recomputes the checksum from the stored content."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT edition_id, as_of, published_at,
                              coalesce(publisher, '未记录 not recorded (role ' || published_by || ')'),
                              cardinality(known_batches), checksum,
                              checksum = published.edition_checksum(as_of, published_at, known_batches, figures, lists)
                         FROM published.editions ORDER BY published_at DESC, edition_id DESC""")
        return cur.fetchall()


def _exports_since(cur, edition: Edition) -> dict[str, list[tuple[str, str, str]]]:
    """Reporting unit → exports (export_id, county system, night) loaded after `edition` that delivered a version
    in force by the end of its day (so they can have moved that unit's figures)."""
    from xuncha.spec import ENTITY_ORDER

    versions = " UNION ALL ".join(
        f"SELECT batch_id FROM {s}.{t} WHERE batch_id = b.batch_id AND coalesce(withdrawn_at, updated_at) < mart.day_end(%(d)s)"
        for t in ENTITY_ORDER for s in ("core", "history"))
    cur.execute(f"""SELECT coalesce(cw.report_code, b.county_code), b.export_id, b.county_code, b.business_date::text
                      FROM audit.batches b LEFT JOIN mart.county_crosswalk cw ON cw.source_code = b.county_code
                     WHERE b.status = 'loaded' AND b.batch_id <> ALL(%(known)s::bigint[]) AND EXISTS ({versions})
                     ORDER BY b.batch_id""", {"d": edition.as_of, "known": list(edition.known_batches)})
    out: dict[str, list] = {}
    for unit, export_id, county, night in cur.fetchall():
        out.setdefault(unit, []).append((export_id, county, night))
    return out


def compare(url: str | None, as_of: dt.date) -> tuple[Edition | None, list[Change]]:
    """The newest edition of `as_of` and its figures that differ from the marts' today (read as they stand:
    compute the day first, as the report does). (None, []) when no edition of that day exists."""
    from xuncha.metrics import dictionary

    edition = latest(url, as_of)
    if edition is None:
        return None, []
    with db.connect(url) as conn, conn.cursor() as cur:
        today, _ = read_day(cur, as_of)
        exports = _exports_since(cur, edition)
    changes = []
    for name, published_rows in edition.figures.items():
        m = dictionary.get(name)
        key = [k for k in m.key if k != "as_of"]
        then = {tuple(r[k] for k in key): r for r in published_rows}
        now = {tuple(r[k] for k in key): r for r in today.get(name, [])}
        for k in sorted(set(then) | set(now), key=str):
            a, b = then.get(k, {}), now.get(k, {})
            for c in m.columns:
                if c.name in key or c.name == "as_of" or a.get(c.name) == b.get(c.name):
                    continue
                unit = (a or b).get("county_code")
                changes.append(Change(name, dict(zip(key, k)), c.name, c.header, a.get(c.name), b.get(c.name),
                                      tuple(exports.get(unit, ()))))
    return edition, changes
