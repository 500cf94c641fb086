"""Incidents (事件): audit.incidents, one per county system and kind from first seen until resolved.

States: open → acknowledged (by, at, note) → resolved (by a person, or `auto` when the condition cleared, with when
and why); open → resolved directly too. At most one unresolved incident per county and kind (the partial unique
index incidents_one_open, migration 0140).

`sync(url, found, now, escalate_after)` is the health run's step: each finding opens an incident or updates its open
one (last_seen, seen_count, summary, detail: no new alert); an unresolved incident of a kind the run checked whose
finding is gone is resolved `auto`; an incident still `open` (not acknowledged) `escalate_after` after it was first
seen is escalated, once. It returns the `Event`s to notify: opened, escalated, resolved. People act through `ack`
and `resolve` (the page, the CLI).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from xuncha.monitor.findings import KINDS, local_time
from xuncha.warehouse import db

COLUMNS = ("incident_id", "county_code", "kind", "severity", "state", "summary", "detail", "first_seen", "last_seen",
           "seen_count", "escalated_at", "acknowledged_by", "acknowledged_at", "ack_note", "resolved_by", "resolved_at",
           "resolved_reason")


class IncidentError(ValueError):
    """An action that does not apply: no such incident, or not in a state that allows it (the message says which)."""


@dataclass(frozen=True)
class Event:
    """Something to notify: `event` is opened | escalated | resolved; `incident` the row after it (COLUMNS as keys)."""
    event: str
    incident: dict


def _select(where: str = "TRUE") -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM audit.incidents WHERE {where}"


def _rows(cur) -> list[dict]:
    return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


def sync(url: str | None, found: list, now: dt.datetime, escalate_after: dt.timedelta | None,
         checked_kinds: set[str] | None = None, county_codes: set[str] | None = None) -> list[Event]:
    """Open, update, auto-resolve and escalate incidents for the findings `found` (xuncha.monitor.findings.Finding) at
    `now`, in one transaction; returns the events in that order. `checked_kinds` (default: every kind) and
    `county_codes` (default: every county) limit auto-resolution and escalation to what was actually checked;
    `escalate_after` None escalates nothing (the load's own call, xuncha.monitor.health.on_quarantine)."""
    checked = checked_kinds if checked_kinds is not None else set(KINDS)
    counties = sorted(county_codes) if county_codes is not None else None
    events: list[Event] = []
    seen: set[tuple[str, str]] = set()
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("LOCK TABLE audit.incidents IN SHARE ROW EXCLUSIVE MODE")   # one health run at a time
        for f in found:
            if (f.county_code, f.kind) in seen:
                continue
            seen.add((f.county_code, f.kind))
            detail = json.dumps(f.detail, ensure_ascii=False, default=str)
            cur.execute(f"""INSERT INTO audit.incidents (county_code, kind, severity, summary, detail, first_seen, last_seen)
                            VALUES (%s, %s, %s, %s, %s, %s, %s)
                            ON CONFLICT (county_code, kind) WHERE state <> 'resolved' DO UPDATE
                               SET last_seen = excluded.last_seen, seen_count = audit.incidents.seen_count + 1,
                                   summary = excluded.summary, detail = excluded.detail
                            RETURNING {', '.join(COLUMNS)}, (xmax = 0) AS inserted""",
                        (f.county_code, f.kind, f.severity, f.line(), detail, now, now))
            *row, inserted = cur.fetchone()
            if inserted:
                events.append(Event("opened", dict(zip(COLUMNS, row))))
        scope = "(%(c)s::text[] IS NULL OR county_code = ANY(%(c)s::text[]))"
        cur.execute(_select(f"state <> 'resolved' AND kind = ANY(%(k)s) AND {scope}"), {"k": sorted(checked), "c": counties})
        for inc in _rows(cur):
            if (inc["county_code"], inc["kind"]) not in seen:
                events.append(Event("resolved", _resolve(cur, inc["incident_id"], "auto", now,
                                                         f"condition cleared: the health run at {local_time(now)} "
                                                         f"no longer finds {inc['kind']} ({KINDS[inc['kind']][1]}已消除)")))
        if escalate_after is None:
            return events
        cur.execute(_select(f"state = 'open' AND escalated_at IS NULL AND first_seen <= %(t)s AND kind = ANY(%(k)s) AND {scope}"),
                    {"t": now - escalate_after, "k": sorted(checked), "c": counties})
        for inc in _rows(cur):
            cur.execute(f"UPDATE audit.incidents SET escalated_at = %s WHERE incident_id = %s RETURNING {', '.join(COLUMNS)}",
                        (now, inc["incident_id"]))
            events.append(Event("escalated", _rows(cur)[0]))
    return events


def _resolve(cur, incident_id: int, by: str, now: dt.datetime, reason: str) -> dict:
    cur.execute(f"""UPDATE audit.incidents SET state = 'resolved', resolved_by = %s, resolved_at = %s, resolved_reason = %s
                     WHERE incident_id = %s AND state <> 'resolved' RETURNING {', '.join(COLUMNS)}""",
                (by, now, reason, incident_id))
    rows = _rows(cur)
    if not rows:
        raise IncidentError(f"incident {incident_id} does not exist or is already resolved")
    return rows[0]


def ack(url: str | None, incident_id: int, by: str, note: str = "", now: dt.datetime | None = None) -> dict:
    """Acknowledge open incident `incident_id` ("seen, I am on it"): stops its escalation. Returns the row; raises
    IncidentError when it is not open (already acknowledged, resolved or unknown)."""
    if not by:
        raise IncidentError("acknowledging needs the name of the person")
    now = now or dt.datetime.now(dt.timezone.utc)
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"""UPDATE audit.incidents SET state = 'acknowledged', acknowledged_by = %s, acknowledged_at = %s,
                                ack_note = %s
                         WHERE incident_id = %s AND state = 'open' RETURNING {', '.join(COLUMNS)}""",
                    (by, now, note or None, incident_id))
        rows = _rows(cur)
    if not rows:
        raise IncidentError(f"incident {incident_id} is not open (unknown, already acknowledged or resolved)")
    return rows[0]


def resolve(url: str | None, incident_id: int, by: str, reason: str, now: dt.datetime | None = None) -> Event:
    """Resolve incident `incident_id` by a person (`by`, with `reason`); the `resolved` Event to notify. Raises
    IncidentError when it is unknown or already resolved. If the condition persists, the next health run opens a new
    incident."""
    if not by or not reason:
        raise IncidentError("resolving needs the name of the person and a reason")
    with db.connect(url) as conn, conn.cursor() as cur:
        return Event("resolved", _resolve(cur, incident_id, by, now or dt.datetime.now(dt.timezone.utc), reason))


def listing(url: str | None, states: tuple[str, ...] = ("open", "acknowledged"), county_code: str | None = None,
            limit: int = 500) -> list[dict]:
    """Incidents in `states` (of one county when given), critical first, then newest first; dicts keyed by COLUMNS."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(_select("state = ANY(%s) AND (%s::text IS NULL OR county_code = %s)")
                    + " ORDER BY severity = 'critical' DESC, last_seen DESC, incident_id DESC LIMIT %s",
                    (list(states), county_code, county_code, limit))
        return _rows(cur)


def get(url: str | None, incident_id: int) -> dict | None:
    """One incident by id (None when unknown)."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(_select("incident_id = %s"), (incident_id,))
        rows = _rows(cur)
    return rows[0] if rows else None


def blocking(url: str | None) -> list[dict]:
    """Critical incidents that are open and not acknowledged: while there is one, the health run fails."""
    return [i for i in listing(url, ("open",)) if i["severity"] == "critical"]
