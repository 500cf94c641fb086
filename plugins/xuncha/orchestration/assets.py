"""The Airflow Assets Xuncha produces: one per core table, one for a finished nightly run, one for the marts
(imported by DAG files only)."""

from __future__ import annotations

from airflow.sdk import Asset

from xuncha.spec import ENTITY_ORDER

CORE = {entity: Asset(name=f"core.{entity}", uri=f"x-xuncha://warehouse/core/{entity}", group="xuncha-core")
        for entity in ENTITY_ORDER}
# Emitted by the nightly run's `summary` once every county's chain has ended: the marts DAG's last trigger of
# the night. A core Asset event can stay unconsumed by the scheduler until another event comes (an Airflow race,
# apache/airflow#54659: mapped tasks finishing close together, as retried loads do); this event comes after all
# of them, and the refresh it triggers covers every load the marts have not taken in (metrics.pending_counties).
NIGHT = Asset(name="night", uri="x-xuncha://warehouse/night", group="xuncha-core")
MARTS = Asset(name="mart", uri="x-xuncha://warehouse/mart", group="xuncha-mart")
