"""The Airflow Assets Xuncha produces: one per core table, one for a judged night, one for the marts
(imported by DAG files only)."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from xuncha.spec import ENTITY_ORDER

CORE = {entity: Asset(name=f"core.{entity}", uri=f"x-xuncha://warehouse/core/{entity}", group="xuncha-core")
        for entity in ENTITY_ORDER}


def core_changes(code: str) -> AssetAlias:
    """The AssetAlias county `code`'s `ingest` task declares as its outlet, adding through it one event per core table
    its night changed: an Asset outlet would have an event on every success, changed or not (Airflow emits one for
    each declared Asset outlet of a successful task), and each event queues a marts run. One alias per county: the
    first event of an alias on an Asset inserts their link (asset_alias_asset), and two counties doing so at once on
    a shared alias collide on its key, which fails the task without retry (seen in the scale-out test, Airflow 3.3.2)."""
    return AssetAlias(name=f"xuncha-core-changes-{code}", group="xuncha-core")


# Emitted by `xuncha_night` after the latest deadline: the marts DAG's last trigger of the night. A core Asset event
# can stay unconsumed (apache/airflow#54659, #56050: events arriving while the max_active_runs=1 marts run runs);
# the refresh this one triggers covers every load the marts have not taken in (metrics.pending_counties).
NIGHT = Asset(name="night", uri="x-xuncha://warehouse/night", group="xuncha-core")
MARTS = Asset(name="mart", uri="x-xuncha://warehouse/mart", group="xuncha-mart")
