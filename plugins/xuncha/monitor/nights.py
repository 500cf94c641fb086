"""Each county system's state on each business night, from the warehouse: the one judgement of a night.

`xuncha_night` fails on it and its run note names it (xuncha.orchestration.nightly re-exports `night_states`,
`night_text`, `RED`); `xuncha nights` prints it as a grid (one row per county, one column per night, issue 23).
A night is judged whatever a county's DAG did or did not do (a paused county's night is judged too), with the rows of
the county's whole lineage (registry.lineage: a successor's night counts its predecessor's exports of that night).
"""

from __future__ import annotations

import datetime as dt

from xuncha.registry import Registry
from xuncha.warehouse import db

RED = ("quarantined", "failed", "missing")
"""Night states that make a night red: `xuncha_night` fails when any county is in one."""
STATE_WORDS = {"loaded": "loaded 已入库", "late": "late 迟报", "quarantined": "quarantined 隔离", "failed": "failed 失败",
               "missing": "missing 漏报", "waiting": "waiting 未到截止", "history": "not judged before go-live 上线前",
               "not_due": "no export due 无需报送"}
"""Each state in words (English with the Chinese term), in the order a night's text names them (red first)."""
CELLS = {"loaded": "loaded", "late": "迟报 late", "quarantined": "隔离", "failed": "失败 failed", "missing": "漏报",
         "waiting": "waiting", "history": "—", "not_due": "·", None: ""}
"""A state as one grid cell of `xuncha nights` (None: the county was not active that night: blank)."""


def judge(statuses: set[str], missed: bool | None, live: bool, due: bool, overdue: bool) -> str:
    """One county's state on one night. `statuses`: audit.batches statuses of the night's exports (its lineage's);
    `missed`: None (no audit.deadline_misses row), False (missed, nothing arrived since), True (arrived after the
    deadline); `live`: the night is on or after go-live (xuncha.extract.deadlines.applies); `due`: the county's
    schedule has an export that night (registry `schedule`); `overdue`: its deadline has passed at the time judged.
    Rules (issue 23, the states xuncha_night names): loaded (late when a miss was recorded) >
    quarantined > failed > history (before go-live) > not_due > missing (deadline passed or miss recorded) > waiting."""
    if statuses & {"loaded", "duplicate"}:
        return "late" if missed is not None else "loaded"
    if "quarantined" in statuses:
        return "quarantined"
    if "failed" in statuses:
        return "failed"
    if not live:
        return "history"
    if not due:
        return "not_due"
    return "missing" if missed is not None or overdue else "waiting"


def states(first: dt.date, last: dt.date, url: str | None = None, reg: Registry | None = None,
           now: dt.datetime | None = None, codes: list[str] | None = None) -> dict[dt.date, dict[str, dict]]:
    """Every county's state for each night `first` … `last` (inclusive), judged at `now` (default the clock):
    night -> code -> `_night` (county, state, exports in load order, the newest batch). Counties inactive on a night
    are left out of it; `codes`: only these counties. Two queries for the whole range (audit.batches,
    audit.deadline_misses). Raises ValueError when `first` is after `last`."""
    from xuncha import registry as registry_mod

    if first > last:
        raise ValueError(f"the first night {first} is after the last {last}")
    reg = reg or registry_mod.load()
    now = now or dt.datetime.now(dt.timezone.utc)
    batches, misses = _read(url, "business_date BETWEEN %s AND %s", (first, last))
    out: dict[dt.date, dict[str, dict]] = {}
    for k in range((last - first).days + 1):
        day = first + dt.timedelta(days=k)
        out[day] = {c.code: _night(reg, c, day, batches, misses, now)
                    for c in reg.active(day) if not codes or c.code in codes}
    return out


def county_states(code: str, days: list[dt.date], url: str | None = None, reg: Registry | None = None,
                  now: dt.datetime | None = None) -> dict[dt.date, dict]:
    """County `code`'s state on each night of `days` (its own DAG's run: the night it is for and the nights it took
    in), judged as `states` judges them at `now`: night -> `_night`. Nights the county is not active are left out.
    Reads only the county's lineage rows of those nights (a catch-up's years of nights stay cheap)."""
    from xuncha import registry as registry_mod

    reg = reg or registry_mod.load()
    now = now or dt.datetime.now(dt.timezone.utc)
    county = reg.get(code)
    days = sorted({d for d in days if county.active_on(d)})
    if not days:
        return {}
    batches, misses = _read(url, "county_code = ANY(%s) AND business_date = ANY(%s)", (list(reg.lineage(code)), days))
    return {day: _night(reg, county, day, batches, misses, now) for day in days}


def _read(url: str | None, where: str, params: tuple) -> tuple[dict, dict]:
    """audit.batches and audit.deadline_misses rows matching `where`: (code, night) -> [(batch_id, status, export_id,
    report_path)], and (code, night) -> whether the missed export arrived since."""
    batches: dict[tuple[str, dt.date], list[tuple]] = {}
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT county_code, business_date, batch_id, status, export_id, report_path FROM audit.batches "
                    f"WHERE {where}", params)
        for code, day, *row in cur.fetchall():
            batches.setdefault((code, day), []).append(tuple(row))
        cur.execute(f"SELECT county_code, business_date, arrived_at IS NOT NULL FROM audit.deadline_misses WHERE {where}",
                    params)
        misses = {(code, day): arrived for code, day, arrived in cur.fetchall()}
    return batches, misses


def _night(reg: Registry, county, day: dt.date, batches: dict, misses: dict, now: dt.datetime) -> dict:
    """County `county`'s night `day` judged (`judge`) from its lineage's batches: {"county": label, "state", "exports":
    [export ids, in load order], "batch_id", "report_path" (of the newest batch; None without one)}."""
    from xuncha.extract import deadlines

    rows = sorted(r for code in reg.lineage(county.code) for r in batches.get((code, day), ()))
    state = judge({r[1] for r in rows}, misses.get((county.code, day)), deadlines.applies(day), county.exports_on(day),
                  now >= deadlines.deadline_at(county, day))
    return {"county": county.label, "state": state, "exports": [r[2] for r in rows],
            "batch_id": rows[-1][0] if rows else None, "report_path": rows[-1][3] if rows else None}


def night_states(day: dt.date, url: str | None = None, reg: Registry | None = None,
                 now: dt.datetime | None = None) -> dict[str, dict]:
    """Every county's state for night `day` (`states` for one night): code -> {"county", "state", "exports"}. States:
    `loaded` (loaded or a re-delivery), `late` (迟报: loaded after its deadline), `quarantined`, `failed` (a fault of
    ours), `missing` (漏报: nothing by the deadline), `waiting` (its deadline not passed yet), `history` (a night before
    go-live: not judged), `not_due` (the county's schedule has no export that night)."""
    return states(day, day, url, reg, now)[day]


def night_text(day: dt.date, found: dict[str, dict], most: int | None = None) -> str:
    """One line per state for night `day`: 'night D — missing 漏报 (2): 伊川县 410329, …', red states first; with
    `most`, a green state names at most `most` counties, then '… N more' (a run note holds 1,000 characters: at 197
    counties the whole list crashed the scheduler's write of xuncha_night's note, issue 23's bench)."""
    order = sorted(STATE_WORDS, key=lambda s: (s not in RED, list(STATE_WORDS).index(s)))
    parts = []
    for s in order:
        names = [v["county"] for v in found.values() if v["state"] == s]
        n = len(names)
        if most is not None and s not in RED and n > most:
            names = [*names[:most], f"… {n - most} more"]
        if names:
            parts.append(f"{STATE_WORDS[s]} ({n}): {', '.join(names)}")
    return f"night {day} — " + "; ".join(parts) if parts else f"night {day}: no county active"


def nights_text(by_night: dict[dt.date, dict[str, dict]], most: int | None = None) -> str:
    """The text of several nights judged together (a catch-up): one night: `night_text`; several: a first line
    'nights A … B (N): R red, G green' with the count of each state over all county-nights, then each red night's
    `night_text`, newest first, then the green nights' dates."""
    days = sorted(by_night)
    if len(days) == 1:
        return night_text(days[0], by_night[days[0]], most)
    red = [d for d in days if any(v["state"] in RED for v in by_night[d].values())]
    counts = {s: sum(v["state"] == s for d in days for v in by_night[d].values()) for s in STATE_WORDS}
    head = (f"nights {days[0]} … {days[-1]} ({len(days)}): {len(red)} red, {len(days) - len(red)} green — "
            + ", ".join(f"{STATE_WORDS[s]} {n}" for s, n in counts.items() if n))
    return "\n".join([head, *(night_text(d, by_night[d], most) for d in reversed(red))])


def grid(by_night: dict[dt.date, dict[str, dict]], reg: Registry) -> list[tuple[str, list[str | None]]]:
    """The rows of `xuncha nights`: (county label, its state on each night of `by_night` in date order; None where it
    was not active), one per county active on any of the nights, in registry order."""
    days = sorted(by_night)
    rows = []
    for c in reg.counties:
        cells = [by_night[d].get(c.code, {}).get("state") for d in days]
        if any(s is not None for s in cells):
            rows.append((c.label, cells))
    return rows


def newest_night(url: str | None = None) -> dt.date | None:
    """The newest business night with an export loaded in the warehouse (audit.batches), None when none is."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(business_date) FROM audit.batches WHERE status = 'loaded'")
        return cur.fetchone()[0]
