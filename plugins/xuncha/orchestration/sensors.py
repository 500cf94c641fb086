"""Xuncha's own Airflow operator and trigger: wait for a county's export, deferred, until its deadline.

Imported by DAG files and by the triggerer (which finds it on the plugins path); the work it does is
in xuncha.extract.deadlines, which knows nothing of Airflow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent


def _check(code: str, day: dt.date) -> bool:
    """Has county `code`'s export for night `day` arrived? Reads the registry now (an edited counties.yml counts);
    a question only (xuncha.extract.deadlines.arrived): nothing is fetched."""
    from xuncha import registry
    from xuncha.extract import deadlines
    from xuncha.orchestration.env import warehouse_url_from_airflow

    reg = registry.load()
    return deadlines.arrived(reg.get(code), day, warehouse_url_from_airflow(), reg)


class ExportArrivalTrigger(BaseTrigger):
    """Fires `arrived` as soon as the night's export is there, or `missed` at the deadline."""

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
        day = dt.date.fromisoformat(self.business_date)
        due = dt.datetime.fromisoformat(self.deadline)
        while True:
            if await asyncio.to_thread(_check, self.county_code, day):
                yield TriggerEvent({"status": "arrived"})
                return
            left = (due - dt.datetime.now(dt.timezone.utc)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"status": "missed"})
                return
            await asyncio.sleep(min(self.poll_seconds, left))


class ExportArrivalSensor(BaseOperator):
    """Waits (deferred: no worker slot) for `county`'s export of the run's night; returns `county` plus `status`.

    status `arrived`: the export is there (or was handled). `missed`: the deadline passed with nothing there; the miss
    is recorded and alerted, and the county's chain goes on so that its earlier waiting nights are still loaded (its
    last task then fails, naming the miss). `history`: a night before go-live with nothing there (no deadline).
    `county` is a template field, so it can be the argument of a mapped task group.
    """

    template_fields = ("county",)

    def __init__(self, *, county: dict, **kwargs):
        super().__init__(**kwargs)
        self.county = county

    def _night(self, context) -> dt.date:
        from xuncha.orchestration import nightly

        return nightly.run_night(context)

    def execute(self, context) -> dict:
        """Return at once if the export is there, record the miss if the deadline has passed, else defer."""
        from xuncha import registry
        from xuncha.extract import deadlines

        day = self._night(context)
        county = registry.load().get(self.county["code"])
        if _check(county.code, day):
            return self.county | {"status": "arrived"}
        if not deadlines.applies(day):
            self.log.info("%s: night %s is before go-live: history, no deadline to wait for", county.label, day)
            return self.county | {"status": "history"}
        due = deadlines.deadline_at(county, day)
        if dt.datetime.now(dt.timezone.utc) >= due:
            return self._missed(day)
        self.log.info("%s: waiting for the export of %s until %s", county.label, day, due.isoformat())
        self.defer(
            trigger=ExportArrivalTrigger(county.code, day.isoformat(), due.isoformat(), county.poll_seconds),
            method_name="execute_complete",
        )

    def execute_complete(self, context, event: dict[str, Any] | None = None) -> dict:
        """Resume after the trigger: record a miss if it fired `missed`; return the county either way."""
        if (event or {}).get("status") == "missed":
            return self._missed(self._night(context))
        return self.county | {"status": "arrived"}

    def _missed(self, day: dt.date) -> dict:
        from xuncha import registry
        from xuncha.extract import deadlines
        from xuncha.orchestration.env import warehouse_url_from_airflow

        county = registry.load().get(self.county["code"])
        deadlines.record_miss(warehouse_url_from_airflow(), county, day)
        self.log.error("%s: no export for the night of %s by its deadline %s (迟报/漏报)", county.label, day,
                       deadlines.deadline_at(county, day).isoformat())
        return self.county | {"status": "missed"}
