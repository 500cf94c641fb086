"""Monitor: what an operator must hear about, found without Airflow.

Owns the health run of the hourly xuncha_health DAG (`health`), what is wrong now (`findings`, `volume`: the volume
monitor), incidents in audit.incidents (`incidents`: open → acknowledged → resolved), who is told what (`notices`:
operators, and a county's own contacts in Chinese), the status board page (`board`), each county's state on each
night (`nights`: what `xuncha_night` judges and `xuncha nights` prints), and the pipeline's alerts in audit.alerts
(`alerts`). May import the root definitions, `warehouse/` and `metrics/` (and, inside `nights.states`,
`extract.deadlines`: the deadline and go-live rule); sending goes through a function the caller passes
(`orchestration.notifications.deliver`).
"""
