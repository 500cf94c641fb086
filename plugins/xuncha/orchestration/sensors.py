"""Xuncha's own Airflow operator and trigger: a county's night, waiting (deferred) for its export until its deadline,
then taking it in.

`CountyNightOperator` is the `ingest` task of each county's DAG (dags/xuncha_county.py): it asks whether the night's
export is there, defers to `ExportArrivalTrigger` (no worker slot) until it is or the deadline passes, then runs the
county's night (xuncha.load.county_night.run, the one entry point) under its own `execution_timeout`, and emits
Asset events only for the core tables the night changed. Imported by DAG files and by the triggerer (which finds it
on the plugins path); the work is in xuncha.extract.deadlines and xuncha.load, which know nothing of Airflow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent


def _check(code: str, day: dt.date, reg=None, url: str | None = None) -> bool:
    """Has county `code`'s export for night `day` arrived? A question only (xuncha.extract.deadlines.arrived): nothing
    is fetched. `reg`/`url`: the registry and warehouse URL to use (the trigger's, loaded once), else read now."""
    from xuncha import registry
    from xuncha.extract import deadlines
    from xuncha.orchestration.env import warehouse_url_from_airflow

    reg = reg or registry.load()
    return deadlines.arrived(reg.get(code), day, url or warehouse_url_from_airflow(), reg)


class ExportArrivalTrigger(BaseTrigger):
    """Fires `arrived` as soon as the night's export is there, or `missed` at the deadline.

    The registry and the warehouse connection are read once when the trigger starts, not on every poll: a triggerer
    holds one trigger per waiting county (≈200 a province), each polling every `poll_seconds`."""

    def __init__(self, county_code: str, business_date: str, deadline: str, poll_seconds: float = 60.0):
        super().__init__()
        self.county_code = county_code
        self.business_date = business_date
        self.deadline = deadline
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs the triggerer rebuilds this trigger from."""
        return (
            "xuncha.orchestration.sensors.ExportArrivalTrigger",
            {"county_code": self.county_code, "business_date": self.business_date, "deadline": self.deadline,
             "poll_seconds": self.poll_seconds},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll every `poll_seconds` until the export has arrived (event `arrived`) or the deadline passes (`missed`)."""
        from xuncha import registry
        from xuncha.orchestration.env import warehouse_url_from_airflow

        day = dt.date.fromisoformat(self.business_date)
        due = dt.datetime.fromisoformat(self.deadline)
        reg = await asyncio.to_thread(registry.load)
        url = await asyncio.to_thread(warehouse_url_from_airflow)
        from xuncha.orchestration.hooks import ConnectionMissing

        while True:
            try:
                there = await asyncio.to_thread(_check, self.county_code, day, reg, url)
            except ConnectionMissing as exc:   # removed while we waited: a configuration fault, not retried
                yield TriggerEvent({"status": "pull_failed", "conn_id": exc.conn_id})
                return
            if there:
                yield TriggerEvent({"status": "arrived"})
                return
            left = (due - dt.datetime.now(dt.timezone.utc)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"status": "missed"})
                return
            await asyncio.sleep(min(self.poll_seconds, left))


class CountyNightOperator(BaseOperator):
    """A county's night in one task: wait (deferred) for the export or the deadline, then fetch and ingest.

    `county`: {"code", "label"} (a template field; notifications read its label). `changes`: the AssetAlias through
    which the night's core Asset events go (`core`: entity -> Asset): one event per core table the night changed,
    none when nothing changed. Returns the night for XCom: `status` (`arrived`, `missed`: the deadline passed and the
    miss is recorded and alerted, `history`: a night before go-live, `not_due`: the county exports no night then,
    `inactive`: outside its active_from … active_to, nothing done: a successor takes what it left — `not_own` says
    what waits in its landing folder and which county takes it (xuncha.load.county_night.not_its_own), `pull_failed`:
    the county's Airflow connection is not defined — a configuration fault, not retried: alerted `pull_failed`, its
    pull_failure incident opened, `error` says what to do and the verdict task fails on it) and `summary` (xuncha.load.county_night.CountyNight.to_xcom). A missed night still takes in what waits from
    earlier nights. `execution_timeout` bounds the load; the wait is bounded by the deadline (defer timeout).
    """

    template_fields = ("county",)

    def __init__(self, *, county: dict, changes, core: dict, **kwargs):
        super().__init__(outlets=[changes], **kwargs)
        self.county = county
        self.changes = changes
        self.core = core

    def execute(self, context) -> dict:
        """Take the night in at once if the export is there, the night is history or its deadline has passed; else
        defer. A missing Airflow connection ends the task at once with status `pull_failed` (no retry); a night after
        today (nightly.future_night, e.g. a Param night mistyped) fails it at once, not retried (AirflowFailException),
        before anything is fetched or deferred."""
        from xuncha.orchestration.hooks import ConnectionMissing

        try:
            return self._execute(context)
        except ConnectionMissing as exc:
            return self._pull_failed(context, exc)

    def _execute(self, context) -> dict:
        from xuncha import registry
        from xuncha.extract import deadlines
        from xuncha.orchestration import nightly

        reg = registry.load()
        county = reg.get(self.county["code"])
        day = nightly.run_night(context, county.timezone)
        if why := nightly.future_night(day):   # before anything is fetched or deferred; not retried
            from airflow.sdk.exceptions import AirflowFailException

            self.log.error("%s: %s", county.label, why)
            raise AirflowFailException(f"{county.label}: {why}")
        if not county.active_on(day):   # what waits in its folder and who takes it, for the log and the run note
            from xuncha.load import county_night

            said = county_night.not_its_own(reg, county.code, day)
            self.log.info("night %s: %s", day, said)
            return {"status": "inactive", "not_own": said, "summary": {"business_date": day.isoformat(), "exports": []}}
        if not county.exports_on(day):
            self.log.info("%s exports no night on %s (schedule %s): nothing to wait for", county.label, day, county.schedule)
            return self._ingest(context, "not_due")
        if _check(county.code, day):
            return self._ingest(context, "arrived")
        if not deadlines.applies(day):
            self.log.info("%s: night %s is before go-live: history, no deadline to wait for", county.label, day)
            return self._ingest(context, "history")
        due = deadlines.deadline_at(county, day)
        if dt.datetime.now(dt.timezone.utc) >= due:
            return self._ingest(context, "missed")
        self.log.info("%s: waiting for the export of %s until %s", county.label, day, due.isoformat())
        self.defer(trigger=ExportArrivalTrigger(county.code, day.isoformat(), due.isoformat(), county.poll_seconds),
                   method_name="execute_complete", timeout=due - dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))

    def execute_complete(self, context, event: dict[str, Any] | None = None) -> dict:
        """Resume after the trigger: take the night in, `missed` when the trigger fired at the deadline."""
        from xuncha.orchestration.hooks import ConnectionMissing

        if (event or {}).get("status") == "pull_failed":
            return self._pull_failed(context, ConnectionMissing(event["conn_id"]))
        try:
            return self._ingest(context, (event or {}).get("status") or "arrived")
        except ConnectionMissing as exc:
            return self._pull_failed(context, exc)

    def _pull_failed(self, context, exc) -> dict:
        """The county's connection is not defined: alert, open the incident (xuncha.orchestration.health.pull_failed),
        log the fix first and return the `pull_failed` result the verdict fails on (nothing fetched, nothing loaded)."""
        from xuncha import registry
        from xuncha.orchestration import health, nightly
        from xuncha.orchestration.env import warehouse_url_from_airflow

        reg = registry.load()
        county = reg.get(self.county["code"])
        day = nightly.run_night(context, county.timezone)
        text = nightly.missing_connection_text(county.code, exc.conn_id)
        self.log.error("%s: pull failed — %s", county.label, text)
        health.pull_failed(warehouse_url_from_airflow(), reg, county.code, text, {"conn_id": exc.conn_id})
        return {"status": "pull_failed", "error": f"pull failed — {text}",
                "summary": {"business_date": day.isoformat(), "exports": []}}

    def _ingest(self, context, status: str) -> dict:
        from xuncha.orchestration import nightly
        from xuncha.orchestration.env import warehouse_url_from_airflow

        url = warehouse_url_from_airflow()
        if status == "missed":
            from xuncha import registry

            tz = registry.load().get(self.county["code"]).timezone
            nightly.record_miss(self.county["code"], nightly.run_night(context, tz), url, self.log)
        summary = nightly.ingest_county(self.county, url, context, self.changes, self.core)
        return {"status": status, "summary": summary}
