-- 0030: drop the views mart.<entity>_versions (0010, rebuilt by 0014). Nothing has read them since 0013: the
-- as-of functions (one file each in sql/repeatable, re-applied when changed) carry their own window over history.
DROP VIEW mart.org_units_versions, mart.rounds_versions, mart.inspections_versions, mart.findings_versions,
          mart.clues_versions, mart.case_outcomes_versions, mart.rectifications_versions,
          mart.satisfaction_surveys_versions;
