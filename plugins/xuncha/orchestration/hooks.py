"""Airflow connections and object storage for the library (the role of a provider's hooks).

The stages (extract, normalize) and the notifications need an Airflow connection or an `ObjectStoragePath` only
when they run inside Airflow; they ask here, so Airflow is imported in `orchestration/` alone.
"""

from __future__ import annotations


def connection(conn_id: str):
    """The Airflow connection `conn_id` (airflow.sdk.Connection), or None when it is not defined or when called
    outside Airflow."""
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception:  # not defined, or not inside Airflow
        return None


def require_connection(conn_id: str):
    """The Airflow connection `conn_id`; raises Airflow's own error when it is not defined."""
    from airflow.sdk import Connection

    return Connection.get(conn_id)


def storage_path(url: str):
    """`url` (s3://, sftp://, file://, …) as Airflow's `ObjectStoragePath`."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)
