"""Running Great Expectations on staged batches (the "audit" of write-audit-publish).

The rules themselves (one suite per entity, their kinds and severities) are `xuncha.validate.suites`; this module runs
them. Validation runs in PostgreSQL (GX's SQL engine over a view of staged files), so it is set-based and its
cost does not depend on Python row loops. Every failing expectation reports sample rows by file row number.

GX Data Docs: validation results are kept under $XUNCHA_HOME/gx/validations and rendered (offline, county values
escaped: xuncha.reports.datadocs) to the local
site $XUNCHA_HOME/data_docs/index.html. `Settings.data_docs` (XUNCHA_DATA_DOCS) chooses which exports get
pages: `failures` (default: exports with a failed or warning expectation — the ones people open), `all`, or
`off`.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from xuncha.spec import Entity, load_spec
from xuncha.validate import row_rules
from xuncha.validate.suites import load_suite, rule_kind

SAMPLE_ROWS = 20
"""Failing rows reported per expectation (file row number and value)."""


@dataclass
class Outcome:
    """One expectation evaluated on one staged file."""

    entity: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    description: str
    element_count: int | None = None
    unexpected_count: int | None = None
    sample: list[dict] = field(default_factory=list)  # [{"row": n, "value": v[, "column": c, "why": w]}, ...]
    kind: str = "invalid"
    """The rule kind from the suite's meta.kind (xuncha.validate.suites.RULE_KINDS)."""
    index: int | None = None
    """The expectation's place in the entity's suite file (xuncha.validate.suites.load_suite)."""
    check: str | None = None
    """The check in plain words from the suite's meta.check (`date format 日期格式`), for county reports."""

    @property
    def blocking(self) -> bool:
        """A failed critical expectation: the export is quarantined."""
        return self.severity == "critical" and not self.success

    @property
    def rule(self) -> str:
        """The problem rule id a failing row is reported under: `row.<kind>:<expectation type>`."""
        return f"row.{self.kind}:{self.expectation}"


@dataclass
class Validation:
    """What one run of an entity's suite found: its outcomes, and GX's results (for Data Docs pages)."""

    entity: str
    outcomes: list[Outcome]
    results: list[tuple[str, str, object]] = field(default_factory=list, repr=False)
    """(suite name, validated table, GX ExpectationSuiteValidationResult) of each GX pass that is worth a page."""


def _empty_relation(entity: Entity) -> str:
    cols = ", ".join(f"NULL::text AS {c}" for c in ["row_no", *entity.column_names])
    return f"(SELECT {cols} WHERE false)"


def resolve(query: str, staged: dict[str, str], lineage: tuple[str, ...]) -> str:
    """An unexpected_rows_query with our placeholders filled: `{export.<entity>}` → `staged[entity]` (an empty
    relation of the entity's columns when absent) and `{lineage}` → a text[] literal. `{batch}` is left to GX."""
    spec = load_spec()

    def table(m: re.Match) -> str:
        name = m.group(1)
        return staged.get(name) or _empty_relation(spec.entity(name))

    query = re.sub(r"\{export\.(\w+)\}", table, query)
    return query.replace("{lineage}", "ARRAY[" + ",".join(f"'{c}'" for c in lineage) + "]::text[]")


_SHARED: dict[tuple[str, str, str], "Validator"] = {}


def shared_validator(url: str) -> "Validator":
    """This process's Validator for the warehouse `url` under the current settings (XUNCHA_HOME, XUNCHA_DATA_DOCS),
    built on first use and kept: GX's context is costly to build (issue 16: once per process, not per Ingestor).

    Not for two threads at once (GX's context is not thread-safe; one ingest runs validation at a time)."""
    from xuncha.settings import get_settings

    settings = get_settings()
    key = (url, str(settings.home), settings.data_docs)
    if key not in _SHARED:
        import logging

        from xuncha.validate import gx

        t = time.perf_counter()
        _SHARED[key] = Validator(url)
        logging.getLogger(__name__).info(
            "GX context built in %.1f s (Great Expectations %s)", time.perf_counter() - t,
            "preloaded by the worker" if gx.PRELOADED else "imported by this process")
    return _SHARED[key]


class Validator:
    """One ephemeral GX context over the warehouse; runs entity suites on views of staged files.

    `url`: the warehouse's SQLAlchemy URL. `docs_mode`/`docs_home` default to the settings (XUNCHA_DATA_DOCS,
    XUNCHA_HOME). Raises ValueError for a docs mode other than failures, all or off.
    """

    def __init__(self, url: str, docs_home: Path | None = None, docs_mode: str | None = None):
        from xuncha.settings import get_settings

        from xuncha.validate.gx import import_gx

        settings = get_settings()
        gx = import_gx()
        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # progress bars are cosmetic
            pass
        # The generic SQL datasource: GX's PostgresDatasource rejects Unix-socket URLs (the embedded server's).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # pool_pre_ping: the context lives as long as the process (shared_validator), the server may restart.
            self.datasource = self.context.data_sources.add_sql("warehouse", connection_string=url,
                                                                kwargs={"pool_pre_ping": True})
        self.docs_mode = docs_mode or settings.data_docs
        if self.docs_mode not in ("failures", "all", "off"):
            raise ValueError(f"XUNCHA_DATA_DOCS must be failures, all or off, not {self.docs_mode!r}")
        if self.docs_mode != "off":
            home = self.docs_home = docs_home or settings.home
            self.context.add_store("validation_results_store", {
                "class_name": "ValidationResultsStore",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(home / "gx" / "validations")},
            })
            self.context.update_data_docs_site("local_site", {
                "class_name": "SiteBuilder", "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(home / "data_docs")},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })

    def validate(self, entity: str, table: str, staged: dict[str, str], lineage: tuple[str, ...]) -> Validation:
        """Run the entity's suite on `table` (schema.name: a view of staged files with batch_id and row_no).

        `staged` maps entity → the relation `{export.<entity>}` references resolve to; `lineage` is the county's
        codes for `{lineage}`. Returns every expectation's outcome (failing ones with up to SAMPLE_ROWS rows).
        Raises RuntimeError if an expectation cannot run (a defect of the suite, not of the data).
        """
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        schema, name = table.split(".")
        asset_name = name
        try:
            asset = self.datasource.get_asset(asset_name)
        except LookupError:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # schema_name: staging tables live outside the search path
                asset = self.datasource.add_table_asset(asset_name, table_name=name, schema_name=schema)
        batch = asset.add_batch_definition_whole_table(f"{asset_name}_all").get_batch()

        suite = load_suite(entity)["expectations"]
        rules = [(i, resolve(raw["kwargs"]["unexpected_rows_query"], staged, lineage)) for i, raw in enumerate(suite)
                 if raw["type"] == "unexpected_rows_expectation"]
        verdicts, rule_sql = f"{table}__rules", dict(rules)
        column_exps, query_exps = [], []
        for i, raw in enumerate(suite):
            kwargs, meta = dict(raw["kwargs"]), raw.get("meta", {}) | {"index": i}
            if "unexpected_rows_query" in kwargs:
                # The rule's own SQL is answered in the file's one pass (row_rules.answer); GX reads its verdicts.
                meta["rule_sql"] = rule_sql[i]
                kwargs["unexpected_rows_query"] = row_rules.verdict_query(verdicts, i)
            # meta.index: the expectation's place in the suite file, which identifies it across the two passes.
            conf = ExpectationConfiguration(type=raw["type"], kwargs=kwargs, meta=meta,
                                            severity=raw.get("severity", "critical"))
            (query_exps if raw["type"] == "unexpected_rows_expectation" else column_exps).append(conf.to_domain_obj())

        try:
            if rules:
                self._answer_rules(table, verdicts, rules)
            return self._run(entity, batch, name, column_exps, query_exps)
        finally:
            self.datasource.delete_asset(asset_name)
            if rules:
                self._sql(f"DROP TABLE IF EXISTS {verdicts}")

    def _answer_rules(self, table: str, verdicts: str, rules: list[tuple[int, str]]) -> None:
        """Every row rule of the suite over `table`, in one pass (two connections for a large file), into
        `verdicts` (xuncha.validate.row_rules).
        Raises RuntimeError when a rule's SQL cannot run (a defect of the suite, as for any expectation)."""
        try:
            row_rules.answer(self.datasource.get_engine().raw_connection, table, verdicts, rules)
        except Exception as exc:
            raise RuntimeError(f"a row rule on {table} failed to run: {str(exc).strip()}") from exc

    def _sql(self, statement: str) -> None:
        """Run one statement on GX's engine and commit (no parameters: `%` stays as written)."""
        raw = self.datasource.get_engine().raw_connection()
        try:
            with raw.cursor() as cur:
                cur.execute(statement)
            raw.commit()
        finally:
            raw.close()

    def _run(self, entity, batch, name, column_exps, query_exps) -> Validation:
        """Two passes. The first asks only pass/fail of every expectation (BOOLEAN_ONLY): GX then bundles the
        column checks into one aggregate query and skips its sample queries, which on a clean file are full
        scans that find nothing (two per column check: 3× the time at 300 k rows). The second pass runs only
        the expectations that failed, asking for their counts and sample rows by row_no."""
        from great_expectations.core.expectation_suite import ExpectationSuite

        if not column_exps and not query_exps:
            return Validation(entity, [])
        first = batch.validate(ExpectationSuite(name=entity, expectations=column_exps + query_exps),
                               result_format={"result_format": "BOOLEAN_ONLY"})
        outcomes, failed = [], set()
        for r in first.results:
            if r.success:
                outcomes.append(self._outcome(entity, r))
            else:
                failed.add(r.expectation_config.meta["index"])
        if not failed:
            return Validation(entity, outcomes, [(entity, name, first)])
        if len(failed) != sum(e.meta["index"] in failed for e in column_exps + query_exps):
            raise RuntimeError(f"{entity}: GX returned results that match no expectation of the suite")
        results = []
        for suffix, exps, fmt in (
                ("columns", column_exps, {"result_format": "SUMMARY", "unexpected_index_column_names": ["row_no"],
                                          "partial_unexpected_count": SAMPLE_ROWS}),
                ("rules", query_exps, {"result_format": "COMPLETE"})):
            exps = [e for e in exps if e.meta["index"] in failed]
            if exps:
                res = batch.validate(ExpectationSuite(name=f"{entity}_{suffix}", expectations=exps), result_format=fmt)
                outcomes += [self._outcome(entity, r) for r in res.results]
                results.append((f"{entity}_{suffix}", name, res))
        return Validation(entity, outcomes, results)

    def publish_docs(self, run_name: str, validations: list[Validation], any_failure: bool) -> str | None:
        """Store the GX results of `validations` under `run_name` and render their Data Docs pages, with the page
        of each validated entity's suite (expectations/<entity>.html, which every result page links to).

        Returns the site-relative path of the run's first failing result page (else its first page), e.g.
        `validations/findings_columns/<run>/<time>/<table>.html` — never a platform path (issue 28: counties are
        sent the report; operators open the page through the Airflow UI, /xuncha/data-docs/<path>) — or None
        when the docs mode leaves this run without pages. The pages are made offline and county values escaped
        (xuncha.reports.datadocs: GX's own pages load their styles and scripts from CDNs and paste unexpected
        values in as markup).
        """
        pending = [r for v in validations for r in v.results]
        if self.docs_mode == "off" or (self.docs_mode == "failures" and not any_failure) or not pending:
            return None
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        from xuncha.reports import datadocs

        run_id = RunIdentifier(run_name=run_name)
        idents, pages = [], []
        for suite, table, res in pending:
            ident = ValidationResultIdentifier(ExpectationSuiteIdentifier(suite), run_id, table)
            for r in res.results:   # Data Docs pages quote county values: as text, never as markup
                r.result = _escaped(r.result)
            self.context.validation_results_store.set(ident, res)
            idents.append(ident)
            pages.append((res.success, ident))
        for entity in sorted({v.entity for v in validations if v.results}):
            self.context.suites.add_or_update(_full_suite(entity))
            idents.append(ExpectationSuiteIdentifier(entity))
        started = time.time() - 1
        self.context.build_data_docs(site_names=["local_site"], resource_identifiers=idents)
        site = self.docs_home / "data_docs"
        datadocs.make_offline(site, since=started)
        first = min(pages, key=lambda p: bool(p[0]))[1]
        url = self.context.get_docs_sites_urls(resource_identifier=first, site_name="local_site")[0]["site_url"]
        return datadocs.site_path(url, site)

    @staticmethod
    def _outcome(entity: str, r) -> Outcome:
        conf = r.expectation_config
        kwargs = conf.kwargs
        column = kwargs.get("column") or (kwargs.get("column_list") or [None])[-1]
        result = r.result or {}
        meta = conf.meta or {}
        description = meta.get("rule") or kwargs.get("description") or conf.type
        error = _exception(r.exception_info)
        if error:
            # A rule that cannot run is a defect of the suite, not of the data: fail loudly.
            raise RuntimeError(f"expectation {conf.type} ({description}) on {entity} failed to run: {error}")
        if conf.type == "unexpected_rows_expectation":
            rows = (result.get("details") or {}).get("unexpected_rows") or []
            # A query over several columns names each row's own (column_name) and why (suites.as_issued_expectation).
            sample = [{"row": _int(x.get("row_no")), "value": _str(x.get("value")),
                       **({"column": x["column_name"], "why": _str(x.get("why"))} if x.get("column_name") else {})}
                      for x in rows[:SAMPLE_ROWS]]
            return Outcome(entity, conf.type, _column_of(meta.get("rule_sql") or kwargs["unexpected_rows_query"]),
                           str(conf.severity.value),
                           bool(r.success), description, None, int(result.get("observed_value") or 0), sample,
                           rule_kind(meta), meta.get("index"), meta.get("check"))
        sample = [{"row": _int(x.get("row_no")), "value": _str(x.get(column))}
                  for x in (result.get("partial_unexpected_index_list") or [])[:SAMPLE_ROWS]]
        return Outcome(entity, conf.type, column, str(conf.severity.value), bool(r.success), description,
                       result.get("element_count"), result.get("unexpected_count", 0 if r.success else None), sample,
                       rule_kind(meta), meta.get("index"), meta.get("check"))


def _full_suite(entity: str):
    """The entity's whole GX suite as stored (expectations/<entity>.json), for its Data Docs page: the result pages
    of every pass over the entity (`entity`, `entity_columns`, `entity_rules`) link to it (xuncha.reports.datadocs)."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    raw = load_suite(entity)
    return ExpectationSuite(name=entity, expectations=[
        ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {}),
                                 severity=e.get("severity", "critical")).to_domain_obj()
        for e in raw["expectations"]])


def _escaped(tree):
    """A validation result's values HTML-escaped and bounded, for Data Docs: GX's renderer puts sample values into
    its string templates unescaped (a county's `<script>` would run when the page is opened); the county's
    values reach the pages only through these results (export spec §10.1)."""
    import html

    from xuncha.text import excerpt

    if isinstance(tree, str):
        return html.escape(excerpt(tree), quote=True)
    if isinstance(tree, dict):
        return {k: _escaped(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_escaped(v) for v in tree]
    return tree


def _exception(info) -> str | None:
    info = info or {}
    if info.get("raised_exception"):
        return info.get("exception_message") or "unknown error"
    for v in info.values():
        if isinstance(v, dict) and (v.get("raised_exception") or v.get("exception_traceback")):
            return v.get("exception_message") or (v.get("exception_traceback") or "").strip().splitlines()[-1]
    return None


def _column_of(query: str) -> str | None:
    # The person-data rule returns its column masked: SELECT row_no, staging.pii_masked(<column>) AS value ...
    m = re.match(r"\s*SELECT\s+row_no,\s*(?:staging\.pii_masked\()?(\w+)", query, re.IGNORECASE)
    return m.group(1) if m and m.group(1) != "value" else None   # `row_no, value, column_name`: per row


def _int(v) -> int | None:
    return int(v) if v is not None else None


def _str(v) -> str | None:
    return None if v is None else str(v)
