"""What is wrong right now, per county system and kind: the conditions behind incidents (xuncha.monitor.incidents).

`current(url, registry, now)` returns one `Finding` per county and kind, judged at `now` (a test passes simulated
times; the health run passes the clock). The expected night is the day before `now` in Asia/Shanghai. A county is
judged with the rows of its whole lineage (registry.lineage: 偃师区 410307 with 偃师市 410381's loaded nights), and
only while it is active on the expected night. A `quarantine` or `platform_failure` finding is filed under the county
that sent the export (audit.batches.county_code), a predecessor's night under the predecessor (吉利区 410306's 2017
night under 410306, not 孟津区 410308): its incident, contacts and page row are that county's.

| kind | 中文 | found when | severity |
|---|---|---|---|
| stale | 数据不新鲜 | the newest loaded night of the lineage is more than `max_age_nights` behind the expected night | critical |
| missing | 漏报 | a night past its deadline with no export yet (audit.deadline_misses without arrived_at) | critical |
| late | 迟报 | an export arrived after its deadline within the last 24 hours | warning |
| quarantine | 隔离 | a night of the last 30 whose newest export was quarantined and no export of it loaded (an older such night while its incident is open) | critical |
| platform_failure | 平台故障 | the same with status `failed` (an error of ours) | critical |
| volume | 数据量异常 | xuncha.monitor.volume | critical |
| pull_failure | 拉取失败 | a pull of the county's HTTP system failed (audit.alerts `pull_failed`, last 7 days) and no pull since moved its watermark nor did an export of it load | critical |
| rectification_overdue | 整改逾期 | mart.rectification.tasks_overdue on its newest day | warning |
| clues_overdue | 线索超期 | mart.clue_disposal.open_beyond_rule on its newest day | warning |
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from xuncha.settings import LOCAL_TIMEZONE
from xuncha.warehouse import db

LOCAL = ZoneInfo(LOCAL_TIMEZONE)
QUARANTINE_WINDOW_NIGHTS = 30
KINDS = {   # kind: (severity, 中文)
    "quarantine": ("critical", "隔离"), "missing": ("critical", "漏报"), "late": ("warning", "迟报"),
    "stale": ("critical", "数据不新鲜"), "volume": ("critical", "数据量异常"), "pull_failure": ("critical", "拉取失败"),
    "platform_failure": ("critical", "平台故障"), "rectification_overdue": ("warning", "整改逾期"),
    "clues_overdue": ("warning", "线索超期未反馈"),
}
"""Every incident kind with its severity (critical incidents fail the health run while unacknowledged) and its
Chinese name; the same list as the CHECK of audit.incidents.kind (sql/migrations/0140_incidents.sql)."""


@dataclass(frozen=True)
class Finding:
    """One problem of one county system found now; becomes (or updates) the open incident of (county_code, kind).
    `message`: one line, English with the Chinese term; `detail`: JSON-ready facts (nights, batch ids, problems)."""
    kind: str
    county_code: str
    county_name: str
    message: str
    detail: dict = field(default_factory=dict, hash=False)

    @property
    def severity(self) -> str:
        """`critical` or `warning` (KINDS)."""
        return KINDS[self.kind][0]

    def line(self) -> str:
        """`<county name> <code>: <message>`."""
        return f"{self.county_name} {self.county_code}: {self.message}"


def expected_night(now: dt.datetime) -> dt.date:
    """The newest finished business night at `now` (aware): yesterday in Asia/Shanghai."""
    return now.astimezone(LOCAL).date() - dt.timedelta(days=1)


def local_time(value: dt.datetime | None) -> str:
    """An incident's time as every reader sees it — the page 事件与县区状态, `xuncha incidents list`, the health run's
    log, notifications and summaries: in the platform's local zone (settings.LOCAL_TIMEZONE) to the minute, with its
    offset, e.g. `2026-12-07 23:24 +08:00`; `—` for None."""
    if value is None:
        return "—"
    local = value.astimezone(LOCAL)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:5]}"


def current(url: str | None, registry, now: dt.datetime, max_age_nights: int = 1) -> list[Finding]:
    """Every finding at `now` (module doc), sorted by county and kind. Reads audit.batches, audit.deadline_misses and
    the marts; writes nothing."""
    from xuncha.monitor import volume

    night = expected_night(now)
    counties = [c for c in registry.counties if c.active_on(night)]
    with db.connect(url) as conn, conn.cursor() as cur:
        out = []
        for c in counties:
            lineage = list(registry.lineage(c.code))
            out += _stale(cur, c, lineage, night, max_age_nights)
            out += _deadlines(cur, c, lineage, now)
            rejected = _rejected(cur, registry, lineage, night)
            out += rejected + _older_quarantine(cur, registry, lineage, night, rejected)
            out += _pull(cur, c, lineage, now)
        out += _overdue(cur, {c.code: c for c in counties})
    out += volume.findings(url, registry, night)
    return sorted(out, key=lambda f: (f.county_code, f.kind))


def judged_as(registry, code: str, night: dt.date):
    """The county system whose findings cover county `code`'s exports on `night`: `code` itself while it is active,
    else its successor (registry `successor`, followed to the one active on `night`); None when none is active (the
    health run judges no county then either)."""
    return registry.active_successor(code, night)


def rejected(url: str | None, registry, code: str, now: dt.datetime) -> list[Finding]:
    """The `quarantine` and `platform_failure` findings at `now` of the lineage of the county judged for county `code`
    (`judged_as`), exactly as `current` finds them (each under the county that sent its exports); [] when no county is
    judged. Writes nothing."""
    night = expected_night(now)
    county = judged_as(registry, code, night)
    if county is None:
        return []
    with db.connect(url) as conn, conn.cursor() as cur:
        return _rejected(cur, registry, list(registry.lineage(county.code)), night)


def just_quarantined(url: str | None, registry, code: str, now: dt.datetime) -> list[Finding]:
    """The `quarantine` finding of county `code`, the county whose export was just quarantined, filed under `code`
    itself whatever that export's night (a predecessor's night too: 吉利区 410306's 2017 export is 410306's incident,
    not its successor's): `rejected`'s when `code`'s newest quarantined export (largest batch_id) is within the window
    (the last QUARANTINE_WINDOW_NIGHTS before `now`), else the same finding over the QUARANTINE_WINDOW_NIGHTS up to
    that export's night (a demo's or history's night: docs/operations.md §9, "a quarantine is an incident at once").
    A night counts as loaded when any county of the lineage loaded it. [] when no county is judged for `code`
    (`judged_as` at `now`: its lineage has ended) or the night has a loaded export since."""
    night = expected_night(now)
    county = judged_as(registry, code, night)
    if county is None:
        return []
    lineage = list(registry.lineage(county.code))
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT business_date FROM audit.batches WHERE county_code = %s AND status = 'quarantined'
                        ORDER BY batch_id DESC LIMIT 1""", (code,))
        row = cur.fetchone()
        if row is None:
            return []
        inside = night - dt.timedelta(days=QUARANTINE_WINDOW_NIGHTS) < row[0] <= night
        return [f for f in _quarantine(cur, registry, lineage, night if inside else row[0]) if f.county_code == code]


def pull_failures(url: str | None, registry, code: str, now: dt.datetime) -> list[Finding]:
    """The `pull_failure` finding at `now` of the county judged for county `code` (`judged_as`), exactly as `current`
    finds it; [] when none (or no county is judged). Writes nothing."""
    county = judged_as(registry, code, expected_night(now))
    if county is None:
        return []
    with db.connect(url) as conn, conn.cursor() as cur:
        return _pull(cur, county, list(registry.lineage(county.code)), now)


def _stale(cur, county, lineage: list[str], night: dt.date, max_age: int) -> list[Finding]:
    cur.execute("""SELECT max(business_date) FROM audit.batches
                    WHERE county_code = ANY(%s) AND status = 'loaded' AND business_date <= %s""", (lineage, night))
    last = cur.fetchone()[0]
    if last is not None and (night - last).days <= max_age:
        return []
    age = None if last is None else (night - last).days
    said = f"{age} night(s) behind {night}" if last is not None else f"nothing loaded up to {night}"
    return [Finding("stale", county.code, county.name, f"newest loaded night {last or 'never'}, {said} (数据不新鲜)",
                    {"last_loaded_night": str(last) if last else None, "age_nights": age, "expected_night": str(night)})]


def _deadlines(cur, county, lineage: list[str], now: dt.datetime) -> list[Finding]:
    out = []
    cur.execute("""SELECT business_date FROM audit.deadline_misses
                    WHERE county_code = ANY(%s) AND arrived_at IS NULL AND deadline_at <= %s ORDER BY 1""", (lineage, now))
    open_ = [r[0] for r in cur.fetchall()]
    if open_:
        out.append(Finding("missing", county.code, county.name,
                           f"{len(open_)} night(s) past the deadline with no export, oldest {open_[0]} (漏报)",
                           {"nights": [str(d) for d in open_]}))
    cur.execute("""SELECT business_date, arrived_at FROM audit.deadline_misses
                    WHERE county_code = ANY(%s) AND arrived_at > %s AND arrived_at <= %s ORDER BY 1""",
                (lineage, now - dt.timedelta(hours=24), now))
    late = cur.fetchall()
    if late:
        out.append(Finding("late", county.code, county.name,
                           f"{len(late)} night(s) arrived after the deadline in the last 24 hours, newest {late[-1][0]} (迟报)",
                           {"nights": [str(d) for d, _ in late]}))
    return out


def _rejected(cur, registry, lineage: list[str], night: dt.date) -> list[Finding]:
    """Nights of the last 30 up to `night` whose newest export was quarantined (or failed) and none of whose exports
    loaded (by any county of `lineage`): one finding per kind and county that sent those exports, in lineage order."""
    cur.execute("""SELECT DISTINCT ON (b.business_date) b.status, b.business_date, b.batch_id, b.export_id, b.county_code,
                          b.report_path, b.error
                     FROM audit.batches b
                    WHERE b.county_code = ANY(%s) AND b.business_date > %s AND b.business_date <= %s
                      AND b.status IN ('loaded', 'quarantined', 'failed')
                      AND NOT EXISTS (SELECT FROM audit.batches l WHERE l.county_code = ANY(%s) AND l.status = 'loaded'
                                         AND l.business_date = b.business_date)
                    ORDER BY b.business_date, b.batch_id DESC""",
                (lineage, night - dt.timedelta(days=QUARANTINE_WINDOW_NIGHTS), night, lineage))
    out, found = [], cur.fetchall()
    for code in lineage:
        for status, kind, zh in (("quarantined", "quarantine", "隔离"), ("failed", "platform_failure", "平台处理失败")):
            rows = [r for r in found if r[0] == status and r[4] == code]
            if rows:
                out.append(_rejected_finding(registry.get(code), kind, status, zh, rows))
    return out


def _rejected_finding(county, kind: str, status: str, zh: str, rows: list[tuple]) -> Finding:
    """The `kind` finding of `county` from its `rows` (_rejected's, oldest night first), naming the newest."""
    newest = rows[-1]
    problems = _problems(newest[5], limit=None)
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    first = f": {problems[0]['rule']} {problems[0].get('message', '')}{more}" if problems else ""
    count, problems = len(problems), problems[:5]
    return Finding(kind, county.code, county.name,
                   f"{len(rows)} night(s) {status}, newest {newest[1]} export {newest[3]} (batch {newest[2]}){first} ({zh})",
                   {"nights": [str(r[1]) for r in rows], "batch_id": newest[2], "export_id": newest[3],
                    "business_date": str(newest[1]), "problems": problems, "problem_count": count,
                    "error": newest[6]})


def _older_quarantine(cur, registry, lineage: list[str], night: dt.date, rejected: list[Finding]) -> list[Finding]:
    """The `quarantine` finding of each open quarantine incident of a county of `lineage` (a predecessor's too) whose
    night is older than the window (opened at once by `just_quarantined`: a demo's or history's night), found over the
    QUARANTINE_WINDOW_NIGHTS up to that night, so the hourly run keeps the incident open until that night loads (or a
    person resolves it) instead of resolving it as no longer seen; none for a county whose quarantine the window
    (`rejected`) already finds, nor when the night has loaded since."""
    cur.execute("""SELECT county_code, (detail->>'business_date')::date FROM audit.incidents
                    WHERE county_code = ANY(%s) AND kind = 'quarantine' AND state <> 'resolved'""", (lineage,))
    out = []
    for code, day in cur.fetchall():
        if day is None or day > night - dt.timedelta(days=QUARANTINE_WINDOW_NIGHTS) or any(
                f.kind == "quarantine" and f.county_code == code for f in rejected):
            continue
        out += [f for f in _quarantine(cur, registry, lineage, day) if f.county_code == code]
    return out


def _quarantine(cur, registry, lineage: list[str], night: dt.date) -> list[Finding]:
    """`_rejected`'s `quarantine` findings alone, over the QUARANTINE_WINDOW_NIGHTS up to `night`."""
    return [f for f in _rejected(cur, registry, lineage, night) if f.kind == "quarantine"]


def _pull(cur, county, lineage: list[str], now: dt.datetime) -> list[Finding]:
    """The newest failed pull of the last 7 days, unless a pull or a load succeeded after it."""
    cur.execute("""SELECT a.raised_at, a.message FROM audit.alerts a
                    WHERE a.kind = 'pull_failed' AND a.county_code = ANY(%s) AND a.raised_at > %s AND a.raised_at <= %s
                      AND NOT EXISTS (SELECT FROM audit.watermarks w WHERE w.county_code = ANY(%s) AND w.updated_at > a.raised_at)
                      AND NOT EXISTS (SELECT FROM audit.batches b WHERE b.county_code = ANY(%s) AND b.status = 'loaded'
                                         AND b.finished_at > a.raised_at)
                    ORDER BY a.raised_at DESC LIMIT 1""", (lineage, now - dt.timedelta(days=7), now, lineage, lineage))
    row = cur.fetchone()
    if row is None:
        return []
    cause = _pull_cause(row[1])
    return [Finding("pull_failure", county.code, county.name, f"pull failed at {local_time(row[0])} — {cause} (拉取失败)",
                    {"failed_at": row[0].isoformat(), "error": cause})]


_SAID = re.compile(r"^(?:pull failed\s*[:—-]\s*|\S+ \d{6}: )+")
"""What a `pull_failed` alert's message starts with that a pull_failure summary says already: `pull failed: ` (the
alert's own), `pull failed — ` (a missing connection's text, alerts before trial 15) and the county's label (a
PullError's `嵩县 410325: `), repeated in any order."""


def _pull_cause(message: str) -> str:
    """Why a pull failed, from its `pull_failed` alert's message, without what the incident's summary says before it
    (`嵩县 410325: pull failed at <time> — `): `pull failed: pull failed — no Airflow connection …` and
    `pull failed: 嵩县 410325: the county system cannot be reached …` become `no Airflow connection …` and `the county
    system cannot be reached …`."""
    return _SAID.sub("", message.strip(), count=1) or message


def report_problems(report_path: str | None, limit: int = 5) -> list[dict]:
    """The first `limit` problems of the quarantine report beside `report_path` (audit.batches.report_path): [{rule,
    rule_zh, message, file, row, column, value}]; [] when there is none (a county's red night names its first)."""
    return _problems(report_path, limit)


def _problems(report_path: str | None, limit: int | None = 5) -> list[dict]:
    """The first `limit` problems (all: None) of a quarantine report (`_report.json` beside `report_path`): rule, rule_zh, message,
    file, row, column, value, check (plain words) and message_zh (what to do). [] when the report is gone."""
    if not report_path:
        return []
    try:
        data = json.loads(Path(report_path).with_name("_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keep = ("rule", "rule_zh", "check", "message", "message_zh", "file", "row", "column", "value")
    return [{k: p.get(k) for k in keep} for p in data.get("problems", [])[:limit]]


def _overdue(cur, active: dict) -> list[Finding]:
    """Overdue rectification tasks and clues past the feedback rule, from the newest day of each mart."""
    out = []
    cur.execute("""SELECT DISTINCT ON (county_code) county_code, open_beyond_rule, feedback_months, as_of
                     FROM mart.clue_disposal ORDER BY county_code, as_of DESC""")
    for code, beyond, months, as_of in cur.fetchall():
        if beyond and code in active:
            out.append(Finding("clues_overdue", code, active[code].name,
                               f"{beyond} open clue(s) past the {months}-month feedback rule as of {as_of} (线索超期未反馈)",
                               {"count": int(beyond), "as_of": str(as_of)}))
    cur.execute("""SELECT DISTINCT ON (county_code) county_code, overdue, as_of
                     FROM (SELECT as_of, county_code, sum(tasks_overdue) AS overdue FROM mart.rectification GROUP BY 1, 2) r
                    ORDER BY county_code, as_of DESC""")
    for code, overdue, as_of in cur.fetchall():
        if overdue and code in active:
            out.append(Finding("rectification_overdue", code, active[code].name,
                               f"{overdue} rectification task(s) overdue as of {as_of} (整改逾期)",
                               {"count": int(overdue), "as_of": str(as_of)}))
    return out
