-- 0003: first mart — findings per county and problem category (发现问题分类统计).
-- One row = one county system's live findings of one category, as of the last refresh.
CREATE TABLE mart.findings_by_category (
    county_code   text        NOT NULL,
    category      text        NOT NULL,
    findings      bigint      NOT NULL,
    first_found   date,
    last_found    date,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (county_code, category)
);
