-- mart.source_codes(units): the county codes whose rows roll up into reporting units `units` (the units
-- themselves included), through mart.county_crosswalk (refilled from config/counties.yml at every refresh).
-- Repeatable object: re-applied by xuncha.migrate whenever this file changes.
CREATE OR REPLACE FUNCTION mart.source_codes(units text[]) RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN units || ARRAY(SELECT source_code FROM mart.county_crosswalk WHERE report_code = ANY(units));
