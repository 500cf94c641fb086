"""The Airflow Assets Xuncha produces: one per core table, one for the marts (imported by DAG files only)."""

from __future__ import annotations

from airflow.sdk import Asset

from xuncha.spec import ENTITY_ORDER

CORE = {entity: Asset(name=f"core.{entity}", uri=f"x-xuncha://warehouse/core/{entity}", group="xuncha-core")
        for entity in ENTITY_ORDER}
MARTS = Asset(name="mart", uri="x-xuncha://warehouse/mart", group="xuncha-mart")
