-- mart.ledger_uninspected — 未巡察单位台账, as of each day in %(dates)s, for reporting units %(units)s (NULL = all).
-- Described in ledger_uninspected.yml. One row = one organisation in scope in a term and not covered by as_of:
-- the shared definition mart.coverage_orgs_as_of (sql/repeatable) that mart.coverage counts, so per unit and
-- term the rows number orgs_in_scope − orgs_covered. Provenance: the batch of the organisation's version in force.
DELETE FROM mart.ledger_uninspected
 WHERE as_of = ANY(%(dates)s::date[]) AND (%(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

INSERT INTO mart.ledger_uninspected (as_of, county_code, term_no, source_code, org_id, org_name, org_type,
                                     in_scope_from, in_scope_to, term_start, term_end, batch_id, export_id,
                                     business_date, loaded_at)
SELECT o.as_of, o.county_code, o.term_no, o.source_code, o.org_id, o.org_name, o.org_type, o.in_scope_from,
       o.in_scope_to, o.term_start, o.term_end, o.batch_id, b.export_id, b.business_date, b.finished_at
  FROM mart.coverage_orgs_as_of(%(dates)s, %(sources)s, %(term_nos)s::int[], %(term_starts)s::date[],
                                %(term_ends)s::date[], %(coverage_round_types)s::text[]) o
  LEFT JOIN audit.batches b ON b.batch_id = o.batch_id
 WHERE NOT o.covered;
