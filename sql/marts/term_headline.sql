-- mart.term_headline — 巡察工作情况, the term headline in the shape the seed publishes, as of each day in
-- %(dates)s: unit rows and the whole-city row.
-- One row = one unit (scope 'unit') or the whole city (scope 'city_total', county_code = the city's code)
-- and one term (the term of the round the row hangs from; 0 when that chain is unknown): rounds started,
-- distinct organisations inspected (any round type; the city's 提级/联动 inspections of county
-- organisations count for the city here), findings, clues transferred, decisions by outcome type and the
-- amount recovered — each counted once it has happened by as_of (start, on-site, found, transfer and
-- decision dates <= as_of).
--
-- A refresh of reporting units %(units)s (NULL = all) costs what those units hold, not what the city holds:
--   a. mart.state_horizon takes in the loaded batches it has not read (per county system, the last day on which
--      its rows change this mart);
--   b. every other unit the series lacks on a day (no mart.refresh_log pair) is taken from an earlier computed
--      day when nothing about it can differ: both days are on or after its horizon, and that day was refreshed
--      once the unit's last change was taken in (a). A unit that cannot be taken so is computed. These rows only make up the
--      whole city: they are not stored, as the unit was not asked for;
--   c. unit rows come from the as-of sets, findings, clues and outcomes counted per inspection first;
--   d. the whole city is the sum of the day's unit rows, except organisations inspected: an organisation
--      inspected by the city and by its county is one organisation, so they are counted over every unit's
--      inspections (a few thousand rows, against millions of findings).

-- a. the horizon of every county system with newly loaded batches: what each batch's versions reach, as its load
-- recorded it (audit.batch_reach, migration 0161), or read from its rows for a batch loaded before that
-- (audit.batch_reach_of: at 10 M findings 4.5 s, against milliseconds for the recorded rows; issue 26, P4)
WITH new AS (
    INSERT INTO mart.state_horizon_batches
    SELECT b.batch_id FROM audit.batches b
     WHERE b.status = 'loaded'
       AND NOT EXISTS (SELECT 1 FROM mart.state_horizon_batches s WHERE s.batch_id = b.batch_id)
    RETURNING batch_id
),
recorded AS (
    SELECT r.county_code, r.last_from, r.last_day, r.batch_id FROM audit.batch_reach r JOIN new USING (batch_id)
),
reach AS (
    SELECT county_code, last_from, last_day FROM recorded
    UNION ALL
    SELECT county_code, last_from, last_day
      FROM audit.batch_reach_of(ARRAY(SELECT batch_id FROM new EXCEPT SELECT batch_id FROM recorded))
)
INSERT INTO mart.state_horizon AS s (county_code, horizon)
SELECT county_code,    -- the local date is monotonic in valid_from, so it is taken once, of the max
       greatest((max(last_from) AT TIME ZONE 'Asia/Shanghai')::date, max(last_day))
  FROM reach GROUP BY county_code
ON CONFLICT (county_code) DO UPDATE SET horizon = greatest(s.horizon, EXCLUDED.horizon), changed_at = now();

-- b. the (day, unit) pairs the series lacks and this refresh was not asked for, with the day to take them from
DROP TABLE IF EXISTS pg_temp.th_missing;
CREATE TEMP TABLE th_missing ON COMMIT DROP AS
SELECT p.as_of, p.unit, src.as_of AS src
  FROM (SELECT d.as_of, u.unit
          FROM unnest(%(dates)s::date[]) AS d(as_of),
               (SELECT DISTINCT report_code AS unit FROM mart.county_crosswalk) u
         WHERE %(units)s::text[] IS NOT NULL AND u.unit <> ALL(%(units)s::text[])
           AND NOT EXISTS (SELECT 1 FROM mart.refresh_log r WHERE r.as_of = d.as_of AND r.county_code = u.unit)) p
 CROSS JOIN LATERAL (
     SELECT max(h.horizon) AS horizon, max(h.changed_at) AS changed_at
       FROM mart.state_horizon h WHERE h.county_code = ANY(mart.source_codes(ARRAY[p.unit]))) u
  LEFT JOIN LATERAL (
     SELECT r.as_of FROM mart.refresh_log r
      WHERE r.county_code = p.unit
        AND p.as_of >= coalesce(u.horizon, '-infinity') AND r.as_of >= coalesce(u.horizon, '-infinity')
        AND r.refreshed_at >= coalesce(u.changed_at, '-infinity')
      ORDER BY r.as_of DESC LIMIT 1) src ON true;

DELETE FROM mart.term_headline
 WHERE as_of = ANY(%(dates)s::date[])
   AND (scope = 'city_total' OR %(units)s::text[] IS NULL OR county_code = ANY(%(units)s::text[]));

-- c. unit rows, as a function of (dates, county codes): called for the units asked for (%(sources)s: their
-- codes), and for the lacking units b could not take from another day. Plain arguments let PostgreSQL inline it
-- and the as-of functions inside it, so it reads only those counties' partitions.
CREATE OR REPLACE FUNCTION pg_temp.headline_unit_rows(dates date[], codes text[])
RETURNS SETOF mart.term_headline LANGUAGE sql STABLE PARALLEL SAFE AS $body$
    WITH rnd AS (
        SELECT as_of, report_code, round_id, term_no, start_date
          FROM mart.rounds_as_of(dates, codes)
    ),
    insp AS (
        SELECT i.as_of, i.report_code, i.inspection_id, i.onsite_start, coalesce(r.term_no, 0) AS term_no,
               coalesce(owner.report_code, i.org_county_code, i.report_code) || '/' || i.org_id AS org_key
          FROM mart.inspections_as_of(dates, codes) i
          LEFT JOIN rnd r ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
          LEFT JOIN mart.county_crosswalk owner ON owner.source_code = i.org_county_code
    ),
    clue AS (
        SELECT as_of, report_code, clue_id, inspection_id, transfer_date
          FROM mart.clues_as_of(dates, codes)
    ),
    per_inspection AS (     -- (day, unit, inspection) → what hangs from it; the term comes from the inspection
        SELECT f.as_of, coalesce(cw.report_code, f.county_code) AS report_code, f.inspection_id, 'finding' AS kind,
               sum(f.findings) AS n, NULL::numeric AS amount
          FROM mart.finding_counts_as_of(dates, codes) f
          LEFT JOIN mart.county_crosswalk cw ON cw.source_code = f.county_code
         GROUP BY 1, 2, 3
        UNION ALL
        SELECT as_of, report_code, inspection_id, 'clue', count(*), NULL
          FROM clue WHERE transfer_date <= as_of
         GROUP BY as_of, report_code, inspection_id
        UNION ALL
        SELECT o.as_of, o.report_code, c.inspection_id, o.outcome_type, count(*), sum(o.amount_recovered)
          FROM mart.case_outcomes_as_of(dates, codes) o
          LEFT JOIN clue c ON c.as_of = o.as_of AND c.report_code = o.report_code AND c.clue_id = o.clue_id
         WHERE o.decision_date <= o.as_of
         GROUP BY o.as_of, o.report_code, c.inspection_id, o.outcome_type
    ),
    facts AS (
        SELECT as_of, report_code, term_no, 'round' AS kind, 1::bigint AS n, NULL AS org_key, NULL::numeric AS amount
          FROM rnd WHERE start_date <= as_of
        UNION ALL
        SELECT as_of, report_code, term_no, 'inspection', 1, org_key, NULL
          FROM insp WHERE onsite_start <= as_of
        UNION ALL
        SELECT p.as_of, p.report_code, coalesce(i.term_no, 0), p.kind, p.n, NULL, p.amount
          FROM per_inspection p
          LEFT JOIN insp i ON i.as_of = p.as_of AND i.report_code = p.report_code AND i.inspection_id = p.inspection_id
    )
    SELECT f.as_of, 'unit'::text, f.report_code, f.term_no,
           coalesce((SELECT cw.report_name FROM mart.county_crosswalk cw WHERE cw.source_code = f.report_code), f.report_code),
           ARRAY(SELECT DISTINCT c FROM unnest(mart.source_codes(ARRAY[f.report_code])) AS c ORDER BY c),
           coalesce(sum(n) FILTER (WHERE kind = 'round'), 0)::int,
           count(DISTINCT org_key) FILTER (WHERE kind = 'inspection')::int,
           coalesce(sum(n) FILTER (WHERE kind = 'finding'), 0)::int,
           coalesce(sum(n) FILTER (WHERE kind = 'clue'), 0)::int,
           coalesce(sum(n) FILTER (WHERE kind = 'sanction'), 0)::int,
           coalesce(sum(n) FILTER (WHERE kind = 'org_handling'), 0)::int,
           coalesce(sum(n) FILTER (WHERE kind = 'detention'), 0)::int,
           coalesce(sum(n) FILTER (WHERE kind = 'judicial_transfer'), 0)::int,
           coalesce(sum(amount), 0)::numeric(18,2),
           now()
      FROM facts f
     GROUP BY f.as_of, f.term_no, f.report_code
$body$;

-- As CREATE TABLE AS, which PostgreSQL may plan in parallel (an INSERT … SELECT it never does); the current
-- findings are counted from core.finding_tally's groups (mart.finding_counts_as_of, migration 0170).
DROP TABLE IF EXISTS pg_temp.th_units;
CREATE TEMP TABLE th_units ON COMMIT DROP AS
SELECT * FROM pg_temp.headline_unit_rows(%(dates)s::date[], %(sources)s::text[]);
INSERT INTO mart.term_headline SELECT * FROM th_units;

-- The lacking units' rows (b), taken from another day or computed: not stored, they only make up the city.
DROP TABLE IF EXISTS pg_temp.th_lacking;
CREATE TEMP TABLE th_lacking ON COMMIT DROP AS
SELECT m.as_of, t.term_no, t.rounds, t.findings, t.clues_transferred, t.sanctions, t.org_handling, t.detentions,
       t.judicial_transfers, t.amount_recovered
  FROM th_missing m
  JOIN mart.term_headline t ON t.as_of = m.src AND t.scope = 'unit' AND t.county_code = m.unit
UNION ALL
SELECT r.as_of, r.term_no, r.rounds, r.findings, r.clues_transferred, r.sanctions, r.org_handling, r.detentions,
       r.judicial_transfers, r.amount_recovered
  FROM pg_temp.headline_unit_rows(%(dates)s::date[], mart.source_codes(ARRAY(SELECT DISTINCT unit FROM th_missing WHERE src IS NULL))) r
  JOIN th_missing m ON m.as_of = r.as_of AND m.unit = r.county_code AND m.src IS NULL;

-- d. the whole city
WITH rnd AS (
    SELECT as_of, report_code, round_id, term_no FROM mart.rounds_as_of(%(dates)s)
),
orgs AS (
    SELECT i.as_of, coalesce(r.term_no, 0) AS term_no,
           count(DISTINCT coalesce(owner.report_code, i.org_county_code, i.report_code) || '/' || i.org_id) AS n
      FROM mart.inspections_as_of(%(dates)s) i
      LEFT JOIN rnd r ON r.as_of = i.as_of AND r.report_code = i.report_code AND r.round_id = i.round_id
      LEFT JOIN mart.county_crosswalk owner ON owner.source_code = i.org_county_code
     WHERE i.onsite_start <= i.as_of
     GROUP BY 1, 2
),
city AS (
    SELECT coalesce(min(report_code), '000000') AS code FROM mart.county_crosswalk WHERE level = 'city'
)
INSERT INTO mart.term_headline (as_of, scope, county_code, term_no, county_name, source_codes, rounds, orgs_inspected,
                                findings, clues_transferred, sanctions, org_handling, detentions, judicial_transfers,
                                amount_recovered)
SELECT u.as_of, 'city_total', city.code, u.term_no, '全市',
       ARRAY(SELECT source_code FROM mart.county_crosswalk ORDER BY source_code),
       sum(u.rounds), coalesce(min(o.n), 0), sum(u.findings), sum(u.clues_transferred), sum(u.sanctions),
       sum(u.org_handling), sum(u.detentions), sum(u.judicial_transfers), sum(u.amount_recovered)
  FROM (SELECT as_of, term_no, rounds, findings, clues_transferred, sanctions, org_handling, detentions,
               judicial_transfers, amount_recovered
          FROM mart.term_headline
         WHERE scope = 'unit' AND as_of = ANY(%(dates)s::date[])
           AND (as_of, county_code) NOT IN (SELECT as_of, unit FROM th_missing)
        UNION ALL
        SELECT * FROM th_lacking) u
 CROSS JOIN city
  LEFT JOIN orgs o ON o.as_of = u.as_of AND o.term_no = u.term_no
 GROUP BY u.as_of, u.term_no, city.code;
