"""Extract: exports arrive and are read as sent, before anything is written to the warehouse.

Owns the landing area that trusts no file (`landing`), each county's inbox (`inbox`), the manifest and its checks
(`manifest`), the size limits of export spec §10.2 (`limits`), pulling from county systems and remote landing
areas (`connectors`) and delivery deadlines (`deadlines`). May import the root definitions, `warehouse/` and
`monitor/` (a missed deadline alerts); connections and object storage come from `orchestration.hooks`, imported
inside the functions that pull.
"""
