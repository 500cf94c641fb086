"""Health checks of the platform (the hourly `xuncha_health` DAG), without Airflow.

`refresh_freshness` recomputes mart.freshness (sql/marts/freshness.sql: one row per county system, read by the
reports' freshness strip). `check` is the health run: what is wrong now (xuncha.monitor.findings, with the volume
monitor) becomes incidents (xuncha.monitor.incidents: opened once, updated while it persists, resolved when it
clears, escalated when nobody acknowledges it), and each event is sent to operators and the county's own contacts
(xuncha.monitor.notices). The run fails while a critical incident is open and unacknowledged (`HealthRun.failed`),
its log leading with the list (`HealthRun.report`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from xuncha.warehouse import db
from xuncha.settings import SQL_DIR

FRESHNESS_SQL = SQL_DIR / "marts" / "freshness.sql"


def refresh_freshness(url: str | None = None) -> int:
    """Recompute mart.freshness from audit.batches / audit.deadline_misses and the registry; returns its rows."""
    from xuncha import registry
    from xuncha.metrics import marts as metrics

    with db.connect(url) as conn, conn.cursor() as cur:
        metrics.sync_crosswalk(cur, registry.default())
        cur.execute(FRESHNESS_SQL.read_text(encoding="utf-8"))
        cur.execute("SELECT count(*) FROM mart.freshness")
        return cur.fetchone()[0]


def freshness(url: str | None = None) -> list[dict]:
    """mart.freshness as dicts, by county code."""
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM mart.freshness ORDER BY county_code")
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


@dataclass
class HealthRun:
    """What one health run found and did: `found` (findings), `events` (incident events), `sent` (notification
    attempts, as xuncha.monitor.notices.deliver records them), `blocking` (critical, open, unacknowledged incidents),
    `channels` (how many notification channels are configured)."""
    found: list = field(default_factory=list)
    events: list = field(default_factory=list)
    sent: list = field(default_factory=list)
    blocking: list = field(default_factory=list)
    channels: int = 0

    @property
    def failed(self) -> bool:
        """True while a critical incident is open and unacknowledged: the run is failed."""
        return bool(self.blocking)

    def report(self) -> str:
        """The run's log text, leading with the blocking incidents, then every finding and what was sent."""
        from xuncha.monitor.findings import local_time

        lines = []
        if self.blocking:
            lines.append(f"{len(self.blocking)} critical incident(s) open and not acknowledged (未确认的严重事件) — "
                         "acknowledge or resolve them on the 事件 page or with `xuncha incidents ack ID`:")
            lines += [f"  #{i['incident_id']} [{i['kind']}] {i['summary']} (since {local_time(i['first_seen'])})"
                      for i in self.blocking]
        else:
            lines.append("no critical incident open and unacknowledged (巡察数据健康检查：正常)")
        if not self.channels:
            lines.append("NOTIFICATIONS ARE OFF: no notification channel is configured (see docs/operations.md)")
        lines.append(f"{len(self.found)} finding(s):")
        lines += [f"  [{f.kind}] {f.line()}" for f in self.found]
        lines += [f"  {e.event}: #{e.incident['incident_id']} [{e.incident['kind']}] {e.incident['county_code']}"
                  for e in self.events]
        failed = [s for s in self.sent if not s["ok"]]
        lines.append(f"{len(self.sent) - len(failed)} notification(s) sent, {len(failed)} failed"
                     + "".join(f"\n  failed: {s['channel']} {s['target']} ({s['audience']}): {s['error']}" for s in failed))
        return "\n".join(lines)


def check(url: str | None, registry, send, now: dt.datetime | None = None, max_age_nights: int = 1,
          escalate_after: dt.timedelta | None = None, ui_url: str | None = None, channels: int = 0) -> HealthRun:
    """One health run at `now` (default the clock): findings → incidents → notifications through `send`
    (xuncha.monitor.notices.Sender). `escalate_after` defaults to XUNCHA_ESCALATE_AFTER_HOURS (4 hours); `ui_url` to
    XUNCHA_UI_URL. Returns the HealthRun; raises only on database errors."""
    from xuncha.monitor import findings, incidents, notices
    from xuncha.settings import get_settings

    settings = get_settings()
    now = now or dt.datetime.now(dt.timezone.utc)
    if escalate_after is None:
        escalate_after = dt.timedelta(hours=float(settings.escalate_after_hours))
    run = HealthRun(channels=channels)
    run.found = findings.current(url, registry, now, max_age_nights)
    run.events = incidents.sync(url, run.found, now, escalate_after)
    run.sent = notices.deliver(url, run.events, registry, send, ui_url or settings.ui_url, now)
    run.blocking = incidents.blocking(url)
    return run


def on_quarantine(url: str | None, registry, code: str, send, now: dt.datetime | None = None,
                  ui_url: str | None = None) -> list[dict]:
    """The moment an export of county `code` is quarantined (xuncha.load.county_night.run's `on_quarantine`; the nightly
    DAG passes Airflow's notifiers as `send`): the health run's quarantine step for that county alone, at `now`
    (default the clock) — its `quarantine` finding (xuncha.monitor.findings.just_quarantined: whatever the night's
    age, not only the last 30 nights the hourly run re-checks) opens the incident or updates the open one (filed under
    `code`, the county that sent the export, also when that is a predecessor no longer active whose inbox its
    successor's DAG took), and what opens is sent now through `send` exactly as the health run sends it. The next
    health run finds the incident open and says nothing again (one open incident per county and kind; a night older
    than its window it keeps open until that night loads). Nothing is escalated here. Returns the notification
    attempts recorded (xuncha.monitor.notices.deliver); raises on database errors."""
    from xuncha.monitor import findings

    return _county_step(url, registry, code, send, now, ui_url, "quarantine", findings.just_quarantined, own=True)


def on_pull_failure(url: str | None, registry, code: str, send, now: dt.datetime | None = None,
                    ui_url: str | None = None) -> list[dict]:
    """The moment county `code`'s pull fails on a fault no retry fixes (its connection is missing; the caller has
    recorded the `pull_failed` alert): the health run's pull_failure step for that county alone, at `now` — its finding
    (xuncha.monitor.findings.pull_failures) opens the incident or updates the open one, and what opens is sent now
    through `send`, as on_quarantine does. Returns the notification attempts; raises on database errors."""
    from xuncha.monitor import findings

    return _county_step(url, registry, code, send, now, ui_url, "pull_failure", findings.pull_failures)


def _county_step(url, registry, code: str, send, now, ui_url, kind: str, find, own: bool = False) -> list[dict]:
    """One health-run step for one county at once: `find(url, registry, code, now)`'s findings of `kind` sync the
    incidents of `kind` of the county they are filed under — `code` itself when `own` (a quarantine: the county that
    sent the export, whatever its night), else the county judged for `code` (findings.judged_as) — and what opens is
    sent through `send`; [] when no county is judged for `code`."""
    from xuncha.monitor import findings, incidents, notices
    from xuncha.settings import get_settings

    now = now or dt.datetime.now(dt.timezone.utc)
    county = findings.judged_as(registry, code, findings.expected_night(now))
    if county is None:
        return []
    filed = code if own else county.code
    found = find(url, registry, filed, now)
    events = incidents.sync(url, found, now, None, checked_kinds={kind}, county_codes={filed})
    return notices.deliver(url, events, registry, send, ui_url or get_settings().ui_url, now)
