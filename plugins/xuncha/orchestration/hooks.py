"""Airflow connections and object storage for the library (the role of a provider's hooks).

The stages (extract, normalize) and the notifications need an Airflow connection or an `ObjectStoragePath` only
when they run inside Airflow; they ask here, so Airflow is imported in `orchestration/` alone.
"""

from __future__ import annotations


def connection(conn_id: str):
    """The Airflow connection `conn_id` (airflow.sdk.Connection), or None when it is not defined or Airflow is absent.

    Inside a task the Task SDK finds it wherever it is defined. Outside one (the CLI, the api-server's plugin pages)
    the SDK sees only AIRFLOW_CONN_* variables, so a connection kept in Airflow's metadata database is read through
    the core model and exported into this process's environment, where the providers' hooks (notifiers) find it too."""
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception:  # not defined, not inside Airflow, or outside a task
        pass
    try:
        import os

        from airflow.models.connection import Connection as Stored
        from airflow.sdk import Connection

        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = Stored.get_connection_from_secrets(conn_id).as_json()
        return Connection.get(conn_id)
    except Exception:  # not defined anywhere, or no metadata database
        return None


class ConnectionMissing(LookupError):
    """The Airflow connection `conn_id` that the configuration names is not defined: a configuration fault, which no
    retry can fix (the county task fails at once, naming it: xuncha.orchestration.sensors, issue 23)."""

    def __init__(self, conn_id: str):
        self.conn_id = conn_id
        super().__init__(f"no Airflow connection `{conn_id}`")


def require_connection(conn_id: str):
    """The Airflow connection `conn_id`; raises ConnectionMissing when it is not defined (Airflow's
    AirflowNotFoundException), other errors of Airflow's as they are (e.g. the API server unreachable: transient)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        raise ConnectionMissing(conn_id) from None


def storage_path(url: str):
    """`url` (s3://, sftp://, file://, …) as Airflow's `ObjectStoragePath`."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)
