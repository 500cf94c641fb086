-- 0140: incidents (事件) — one row = one problem of one county system of one kind, from when it was first seen until
-- it was resolved (by a person, or automatically when the condition cleared). The hourly health run opens, updates
-- and resolves them (xuncha.monitor.incidents); people acknowledge and resolve them on the page 事件与县区状态 or with
-- `xuncha incidents ack|resolve`. A persisting problem updates its incident (last_seen, seen_count) and does not
-- alert again; audit.notifications records every message sent about one.
CREATE TABLE audit.incidents (
    incident_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_code      text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN (
                         'quarantine', 'late', 'missing', 'stale', 'volume', 'pull_failure', 'platform_failure',
                         'rectification_overdue', 'clues_overdue')),
    severity         text        NOT NULL CHECK (severity IN ('critical', 'warning')),
    state            text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    summary          text        NOT NULL,                -- one line, English with the Chinese term (newest seen)
    detail           jsonb       NOT NULL DEFAULT '{}',   -- what the check found (newest seen): batch ids, counts
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL,
    seen_count       integer     NOT NULL DEFAULT 1,      -- health runs that found it
    escalated_at     timestamptz,                         -- when the unacknowledged incident was escalated (once)
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    ack_note         text,
    resolved_by      text,                                -- a user name, or 'auto' when the condition cleared
    resolved_at      timestamptz,
    resolved_reason  text,
    CHECK (CASE state WHEN 'open' THEN acknowledged_at IS NULL AND resolved_at IS NULL
                      WHEN 'acknowledged' THEN acknowledged_at IS NOT NULL AND resolved_at IS NULL
                      ELSE resolved_at IS NOT NULL AND resolved_by IS NOT NULL END)
);
-- At most one open (or acknowledged) incident per county and kind.
CREATE UNIQUE INDEX incidents_one_open ON audit.incidents (county_code, kind) WHERE state <> 'resolved';
CREATE INDEX incidents_by_time ON audit.incidents (last_seen DESC);

-- One row = one message about one incident through one channel to one audience (sent or failed).
CREATE TABLE audit.notifications (
    notification_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id      bigint      REFERENCES audit.incidents,   -- NULL for `xuncha notify test`
    event            text        NOT NULL CHECK (event IN ('opened', 'escalated', 'resolved', 'test')),
    audience         text        NOT NULL,                     -- 'operators' or a county code (its contacts)
    channel          text        NOT NULL,                     -- 'email' | 'chat' (and the connection id in `target`)
    target           text        NOT NULL,                     -- addresses or connection id
    ok               boolean     NOT NULL,
    error            text,
    sent_at          timestamptz NOT NULL
);
CREATE INDEX notifications_by_incident ON audit.notifications (incident_id);

-- A failed pull of a county's HTTP system is recorded as an alert (xuncha.load.county_night.fetch); the health run
-- opens a pull_failure incident from it until a later pull moves the county's watermark or an export of it loads.
ALTER TABLE audit.alerts DROP CONSTRAINT IF EXISTS alerts_kind_check;
ALTER TABLE audit.alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN (
    'deadline_missed', 'quarantined', 'stale', 'clues_overdue', 'rectification_overdue', 'quarantine_rising',
    'push_rejected', 'pull_failed'));
