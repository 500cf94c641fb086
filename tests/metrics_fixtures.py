"""Building hand-computed worlds for the metric tests: real export folders through the real pipeline.

Each helper makes one row of one entity, its `updated_at` on the day the thing happened (20:00 local), so
a night's export carries what changed that day, as a county system would send it. `World.night()` writes
the export with tests/exports.py and ingests it with xuncha.load.pipeline.Ingestor; `World.mart()` reads a mart
back as whole rows (every column but refreshed_at; dates as ISO text, numbers as text).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import query
from exports import write_export

from xuncha import registry
from xuncha.metrics import marts as metrics
from xuncha.load import pipeline


def ts(day: str, hour: int = 20) -> str:
    return f"{day}T{hour:02d}:00:00+08:00"


def org(oid, org_type="village", since="2016-10-01", to=None, at="2017-01-05", name=None):
    return {"org_id": oid, "org_name": name or f"组织{oid}", "org_type": org_type, "parent_org_id": None,
            "in_scope_from": since, "in_scope_to": to, "updated_at": ts(at)}


def round_(rid, start, round_type="regular", term=11, no=1, end=None, at=None):
    return {"round_id": rid, "term_no": term, "round_no": no, "round_type": round_type, "start_date": start,
            "end_date": end, "updated_at": ts(at or start)}


def insp(iid, rid, org_id, start, feedback=None, owner=None, end=None, at=None):
    return {"inspection_id": iid, "round_id": rid, "org_id": org_id, "org_county_code": owner, "team_name": "第一巡察组",
            "onsite_start": start, "onsite_end": end, "feedback_date": feedback, "updated_at": ts(at or start)}


def finding(fid, iid, found, category="SL1", at=None):
    return {"finding_id": fid, "inspection_id": iid, "category": category, "found_date": found,
            "summary": f"问题 {fid}", "updated_at": ts(at or found)}


def clue(cid, iid, transfer, method=None, closed=None, at=None, recipient="discipline"):
    return {"clue_id": cid, "inspection_id": iid, "recipient": recipient, "transfer_date": transfer,
            "disposal_method": method, "closed_date": closed, "updated_at": ts(at or closed or transfer)}


def outcome(did, cid, outcome_type, decided, rank="township", amount=None, at=None, person="P-0123456789AB"):
    return {"outcome_id": did, "clue_id": cid, "person_ref": person, "outcome_type": outcome_type,
            "person_rank": rank, "decision_date": decided, "amount_recovered": amount, "updated_at": ts(at or decided)}


def task(tid, iid, due, status="not_started", completed=None, at="2018-03-01", responsible="责任单位"):
    return {"task_id": tid, "inspection_id": iid, "finding_id": None, "responsible_org": responsible, "due_date": due,
            "status": status, "completed_date": completed, "updated_at": ts(at)}


def survey(sid, iid, day, respondents, satisfied, basically=0, dissatisfied=0, at=None):
    return {"survey_id": sid, "inspection_id": iid, "survey_date": day, "respondents": respondents,
            "satisfied": satisfied, "basically_satisfied": basically, "dissatisfied": dissatisfied,
            "updated_at": ts(at or day)}


def _text(v):
    if isinstance(v, (dt.date, Decimal)):
        return v.isoformat() if isinstance(v, dt.date) else str(v)
    return v


class World:
    """One test's warehouse: nights in, marts out."""

    def __init__(self, url: str, root: Path):
        self.url = url
        self.root = root
        self.registry = registry.default()
        self.ingestor = pipeline.Ingestor(self.registry, url=url, move=False)
        self._seq: dict[tuple[str, str], int] = {}

    def night(self, county: str, day: str, mode: str = "delta", **entities: list[dict]):
        """Deliver county `county`'s export of business night `day` (one file per entity given); it must load."""
        n = self._seq[(county, day)] = self._seq.get((county, day), 0) + 1
        export_id = f"{county}-{day.replace('-', '')}-{n:02d}"
        d = write_export(self.root, county, export_id, day, entities, mode=mode,
                         generated_at=f"{(dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()}T01:00:00+08:00")
        result = self.ingestor.ingest(d, self.registry.get(county))
        assert result.status == "loaded", result.problems
        return result

    def refresh(self, *days: str, **kw) -> list[str]:
        if days:
            kw["dates"] = [dt.date.fromisoformat(d) for d in days]
        return metrics.refresh(self.url, **kw)

    def columns(self, table: str) -> tuple[str, ...]:
        rows = query(self.url, """SELECT column_name FROM information_schema.columns
                                   WHERE table_schema = 'mart' AND table_name = %s AND column_name <> 'refreshed_at'
                                   ORDER BY ordinal_position""", (table,))
        return tuple(r[0] for r in rows)

    def mart(self, table: str, as_of: str | None = None, **equal) -> list[tuple]:
        """Whole rows of mart.`table` (optionally of one day and matching `equal`), in key order."""
        cols = self.columns(table)
        keys = [r[0] for r in query(self.url, """
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
                                                   (f"mart.{table}",))]
        where = dict(equal, **({"as_of": as_of} if as_of else {}))
        sql = f"SELECT {', '.join(cols)} FROM mart.{table}"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = %({k})s" for k in where)
        rows = query(self.url, sql + f" ORDER BY {', '.join(keys)}", where)
        return [tuple(_text(v) for v in r) for r in rows]


    def mart_raw(self, table: str, as_of: dt.date) -> list[tuple]:
        """Rows of mart.`table` for one day as the driver returns them (every column but refreshed_at), in key order."""
        cols = self.columns(table)
        return query(self.url, f"SELECT {', '.join(cols)} FROM mart.{table} WHERE as_of = %s ORDER BY {', '.join(cols)}",
                     (as_of,))


def _empty_marts(url: str) -> None:
    tables = [r[0] for r in query(url, "SELECT format('mart.%I', tablename) FROM pg_tables WHERE schemaname = 'mart'")]
    query(url, f"TRUNCATE {', '.join(tables)}")


@pytest.fixture
def world(clean, tmp_path) -> World:
    """An empty warehouse, marts and their bookkeeping included."""
    _empty_marts(clean)
    return World(clean, tmp_path / "exports")


def shared_world(build):
    """A fixture `world` for a module whose tests only read: `build(world)` loads once, marts are emptied per test."""

    @pytest.fixture(scope="module")
    def loaded(warehouse, tmp_path_factory) -> World:
        from conftest import TABLES_TO_RESET

        from xuncha.spec import ENTITY_ORDER

        tables = [f"{s}.{e}" for s in ("core", "history") for e in ENTITY_ORDER]
        query(warehouse, f"TRUNCATE {', '.join(tables)}, {TABLES_TO_RESET}")
        w = World(warehouse, tmp_path_factory.mktemp("exports"))
        build(w)
        return w

    @pytest.fixture
    def world(loaded) -> World:
        _empty_marts(loaded.url)
        return loaded

    return loaded, world
