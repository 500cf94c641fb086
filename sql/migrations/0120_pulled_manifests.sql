-- HTTP pull (issue 28): the manifest of every export pulled from a county system, by its SHA-256.
-- An export quarantined once (e.g. stamped in the future: its generated_at never moves the watermark) is listed again
-- every night; while its newest batch is `quarantined` and its manifest (which carries every file's SHA-256) is
-- unchanged, it is not pulled, quarantined and alerted again (xuncha.extract.connectors.already_quarantined).
CREATE TABLE audit.pulled_manifests (
    county_code     text        NOT NULL,
    export_id       text        NOT NULL,
    manifest_sha256 text        NOT NULL,
    pulled_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (county_code, export_id, manifest_sha256)
);
