"""Refreshing the marts: every `.sql` file in sql/marts, for the counties that changed, in one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from xuncha import db
from xuncha.settings import SQL_DIR

MARTS_DIR = SQL_DIR / "marts"


def mart_files() -> list:
    return sorted(MARTS_DIR.glob("*.sql"))


def refresh(url: str | None = None, counties: Iterable[str] | None = None) -> list[str]:
    """Recompute every mart for `counties` (None = all); readers see the old or the new figures, never a mix."""
    codes = sorted(set(counties)) if counties is not None else None
    done = []
    with db.connect(url) as conn, conn.cursor() as cur:
        for path in mart_files():
            cur.execute(path.read_text(encoding="utf-8"), {"counties": codes})
            done.append(path.stem)
    return done


def findings_by_category(url: str | None = None) -> list[tuple]:
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT county_code, category, findings, first_found, last_found
                         FROM mart.findings_by_category ORDER BY county_code, category""")
        return cur.fetchall()
