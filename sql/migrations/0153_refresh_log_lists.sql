-- 0153: which computed (day, unit) pairs hold their lists (台账). The refresh keeps lists for the newest day of a
-- pass and for days asked for by name, and deletes those of the pass's other days (metrics/marts.py); `ensure`
-- reads this flag to make a day's lists only where they are missing, so a report for a day already complete does
-- no work.
ALTER TABLE mart.refresh_log ADD COLUMN lists boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN mart.refresh_log.lists IS 'The lists (mart.ledger_*) of this (as_of, unit) are computed and current.';
