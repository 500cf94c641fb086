"""A county's night: the one entry point for taking in what a county system sent, used by every caller.

Each county DAG's `ingest` task, `xuncha ingest`, the fault tests and the benchmarks all call `run`. For a night
it fetches (the one place that does: `fetch`), then takes every export waiting up to that night, oldest first, through
the pipeline (xuncha.load.pipeline, which returns what happened), alerts each quarantined or failed export once
(xuncha.monitor.alerts.for_exports: the one place exports are alerted), moves pulled counties' watermarks and closes
deadline misses the loads answer. The result is a `CountyNight`, which serialises to the
task's XCom (`to_xcom`) and to the extra of the core Asset events (`asset_extra`).

A county that continues other systems (2021: 偃师区 ← 偃师市, 孟津区 ← 孟津县 + 吉利区) first takes what is still
waiting for those predecessors (those no longer active that night), so their rows are in core before its own
exports refer to them, and their late exports are not stranded once they are no longer planned. Every caller
(the DAG task, `xuncha ingest`, the push intake's triggered run, tests, benchmarks) is serialised per lineage here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xuncha.extract import inbox
from xuncha.load.batch import BatchResult
from xuncha.registry import County, Registry
from xuncha.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class CountyNight:
    """What a county's night did: one BatchResult per export taken in (predecessors' first), in order.

    `county_code`/`county`: the county system the night was run for (code, "name code" label);
    `business_date`: the night (None when exports were given by path, not by night).
    """

    county_code: str
    county: str
    business_date: dt.date | None
    exports: list[BatchResult] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        """Exports published into core."""
        return sum(r.status == "loaded" for r in self.exports)

    @property
    def duplicates(self) -> int:
        """Re-deliveries of exports already loaded (nothing changed)."""
        return sum(r.status == "duplicate" for r in self.exports)

    @property
    def quarantined(self) -> list[str]:
        """Export ids quarantined (nothing of them reached core)."""
        return [r.export_id for r in self.exports if r.status == "quarantined"]

    @property
    def changed_entities(self) -> list[str]:
        """Entities whose core rows changed, sorted: the core Assets the night updates."""
        return sorted({e for r in self.exports for e in r.entities})

    @property
    def counties(self) -> list[str]:
        """County codes whose core rows changed (the county and any predecessor), sorted."""
        return sorted({r.county_code for r in self.exports if r.entities})

    def to_xcom(self) -> dict:
        """JSON-ready dict (the ingest task's XCom): county, night, per-export summaries and the counts."""
        return {
            "county_code": self.county_code,
            "county": self.county,
            "business_date": self.business_date.isoformat() if self.business_date else None,
            "exports": [r.summary() for r in self.exports],
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "changed_entities": self.changed_entities,
            "counties": self.counties,
        }

    def asset_extra(self) -> dict:
        """The extra of each core Asset event the night emits: which counties changed, for which night.
        The marts DAG refreshes only those counties (xuncha.orchestration.nightly.changed_counties)."""
        return {"counties": self.counties, "business_date": self.business_date.isoformat() if self.business_date else None}


def fetch(county: County, settings: Settings, url: str) -> None:
    """Bring what the county has for us into its inbox (remote landing, HTTP pull; a local landing needs nothing).

    The only place exports are fetched; the arrival check (xuncha.extract.deadlines.arrived) only asks. A failed pull
    (PullError, or the county refused our token) is alerted as `pull_failed` (the health run's pull_failure incident)
    and raised."""
    from xuncha.extract import connectors
    from xuncha.monitor import alerts

    try:
        connectors.fetch(county, county.landing_dir(settings.landing), url)
    except (connectors.PullError, PermissionError) as exc:   # the county system failed us: alert it, then fail the task
        alerts.raise_alert(url, "pull_failed", county.code, f"pull failed: {exc}",
                           detail={"error": str(exc)})
        raise


def _quarantined(on_quarantine, code: str, handled) -> None:
    """Call `on_quarantine(code)` when one of `handled` (BatchResult) was quarantined; log what it raises."""
    if on_quarantine is None or not any(r.status == "quarantined" for r in handled or ()):
        return
    try:
        on_quarantine(code)
    except Exception:   # telling must not undo or fail a load that is done; the hourly health run tells instead
        log.exception("%s: could not open the quarantine incident now; the next health run will", code)


def members(registry: Registry, code: str, day: dt.date | None) -> list[County]:
    """Whose inboxes county `code`'s night `day` takes, in order: its predecessors no longer active that night
    (all when `day` is None), then itself (the registry's lineage, 2021 code changes)."""
    lineage = registry.lineage(code)
    return [*(registry.get(c) for c in reversed(lineage[1:]) if day is None or not registry.get(c).active_on(day)),
            registry.get(code)]


def taker(registry: Registry, code: str, day: dt.date) -> County | None:
    """The county whose run takes what waits in county `code`'s inbox for night `day` (the inverse of `members`):
    `code` itself while it is active on `day` or not yet active (its own runs from its first night on take its
    inbox), else its successor (registry `successor`, followed to the one active on `day`), whose run takes what waits
    for the counties it continues; None when no county is active then (an end without a successor)."""
    c = registry.get(code)
    return c if day < c.active_from else registry.active_successor(code, day)


NOT_OWN_NAMED = 3
"""Exports a `not_its_own` text names before '… and N more' (a run note holds 1,000 characters)."""


def not_its_own(registry: Registry, code: str, day: dt.date, settings: Settings | None = None) -> str:
    """What the run of county `code` for night `day`, a night outside its active_from … active_to, says instead of
    'nothing waiting': the run takes nothing; each export still waiting in its landing folder (oldest night first),
    why it is not taken and which county takes it (`taker`). The county DAG's `ingest` logs it and returns it (its
    XCom `not_own`); the run note shows it (xuncha.orchestration.run_notes)."""
    county = registry.get(code)
    span = f"{county.active_from} … {county.active_to}" if county.active_to else f"from {county.active_from} on"
    text = f"not {county.label}'s night (it exports under its code {span}), so this run takes nothing"
    arrivals = inbox.waiting(county, settings)
    if not arrivals:
        return text + "; nothing waits in its landing folder"
    named = []
    for a in arrivals[:NOT_OWN_NAMED]:
        night = dt.date.fromisoformat(a.night) if _is_date(a.night) else None
        whose = ("its own night" if night and county.active_on(night) else
                 f"after its last night {county.active_to}" if night and county.active_to and night > county.active_to
                 else f"before its first night {county.active_from}" if night else "night unreadable")
        to = taker(registry, code, max(night or day, day))
        by = ("nobody: no county continues it (registry `successor`); load it with `xuncha ingest DIR --county "
              f"{code}`" if to is None else f"its own run of {county.active_from} or later takes it" if to.code == code
              else f"{to.label}'s next run takes it (a successor takes what waits for the counties it continues)")
        named.append(f"export {a.export_id} (night {a.night or '?'}, {whose}) — {by}")
    more = f"; … and {len(arrivals) - NOT_OWN_NAMED} more" if len(arrivals) > NOT_OWN_NAMED else ""
    return f"{text}; waiting in its landing folder: " + "; ".join(named) + more


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def backlog(registry: Registry, code: str, day: dt.date | None, settings: Settings | None = None) -> int:
    """How many exports wait for county `code`'s night `day`: the folders in the inboxes of its `members`
    (xuncha.extract.inbox.backlog). Pulled and remote-landing counties count what is already fetched (usually nothing)."""
    return sum(inbox.backlog(m, settings) for m in members(registry, code, day))


def run(registry: Registry, code: str, day: dt.date | None, *, url: str | None = None, settings: Settings | None = None,
        exports: Sequence[inbox.Arrival] | None = None, move: bool = True, ingestor=None,
        on_quarantine: Callable[[str], object] | None = None) -> CountyNight:
    """Take in county `code`'s exports for the nights up to `day`, oldest first; returns what happened.

    `exports` None (the nightly run): fetch, then take what waits in the inboxes of the county and of its
    predecessors inactive on `day`. `exports` given (`xuncha ingest PATH`, tests, benchmarks): take exactly
    those, as the county's, without fetching. `move`: take handled exports out of their folders (archive or
    quarantine). `ingestor`: a xuncha.load.pipeline.Ingestor to reuse (it holds the GX context), else a new one.
    The whole night (fetch included) holds the lineage's lock (xuncha.load.lineage_lock): a second run of the
    same county or of one in its lineage waits for it (LineageBusy after lineage_lock.WAIT_SECONDS).
    `on_quarantine(county code)` is called as soon as an export of a county (or of a predecessor it takes) has been
    quarantined, once per county per run: the county's DAG opens the county's quarantine incident and notifies then
    (xuncha.monitor.health.on_quarantine), not at the next hourly health run; its errors are logged, never raised
    (the health run catches up).
    Raises on infrastructure errors (database, network), after alerting the exports already quarantined or
    failed; bad input is quarantined and alerted, never raised.
    """
    from xuncha.monitor import alerts
    from xuncha.extract import connectors
    from xuncha.warehouse import db
    from xuncha.extract import deadlines
    from xuncha.load import lineage_lock, pipeline

    settings = settings or get_settings()
    url = url or db.warehouse_url(settings)
    ingestor = ingestor or pipeline.Ingestor(registry, url=url, settings=settings, move=move)
    county = registry.get(code)
    night = CountyNight(code, county.label, day)
    lineage = registry.lineage(code)
    # The lineage's lock before anything is fetched: a second run of the lineage waits, then finds nothing new.
    with lineage_lock.held(url, registry, code):
        for member in [county] if exports is not None else members(registry, code, day):
            if exports is None:
                fetch(member, settings, url)
            arrivals = list(exports) if exports is not None else inbox.waiting(member, settings, up_to=day)
            try:
                handled = ingestor.ingest_many(arrivals, member)
            except Exception as exc:
                try:   # what was quarantined before the error is out of the inbox: tell it now or never
                    alerts.for_exports(url, member.label, pipeline.handled_before(exc))
                except Exception:
                    log.exception("%s: could not alert the exports handled before %s", member.code, type(exc).__name__)
                _quarantined(on_quarantine, member.code, pipeline.handled_before(exc))
                raise
            alerts.for_exports(url, member.label, handled)   # the pipeline returns what happened; here it is told
            _quarantined(on_quarantine, member.code, handled)
            night.exports += handled
            stamped = [r for r in handled if r.generated_at is not None]
            if exports is None and member.pulled and stamped and not any(r.status == "failed" for r in handled):
                # Every export up to here is handled (loaded, recognised, or quarantined with its report); after an
                # export failed through a fault of ours the watermark stays, so the next run asks for it again.
                last = max(stamped, key=lambda r: r.generated_at)
                connectors.advance_watermark(url, member.code, last.generated_at, last.export_id)
    deadlines.mark_arrived(url, list(lineage),
                           sorted({r.business_date for r in night.exports if r.status == "loaded" and r.business_date}))
    return night
