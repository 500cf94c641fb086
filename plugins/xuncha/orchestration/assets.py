"""The Airflow Assets Xuncha produces: one per core table, one for a judged night, one for the marts
(imported by DAG files only)."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from xuncha.spec import ENTITY_ORDER

CORE = {entity: Asset(name=f"core.{entity}", uri=f"x-xuncha://warehouse/core/{entity}", group="xuncha-core")
        for entity in ENTITY_ORDER}
# A county's `ingest` task declares this alias as its outlet and adds through it one event per core table its night
# changed: an Asset outlet would have an event on every success, nothing changed or not (Airflow emits an event for
# each declared Asset outlet of a successful task), and each event queues a marts run.
CORE_CHANGES = AssetAlias(name="xuncha-core-changes", group="xuncha-core")
# Emitted by `xuncha_night` after the latest deadline: the marts DAG's last trigger of the night. A core Asset event
# can stay unconsumed (apache/airflow#54659, #56050: events arriving while the max_active_runs=1 marts run runs);
# the refresh this one triggers covers every load the marts have not taken in (metrics.pending_counties).
NIGHT = Asset(name="night", uri="x-xuncha://warehouse/night", group="xuncha-core")
MARTS = Asset(name="mart", uri="x-xuncha://warehouse/mart", group="xuncha-mart")
