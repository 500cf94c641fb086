-- Push intake (推送接收): county systems that push their exports over HTTP, authenticated per county.
-- One row = one county's token, stored as its SHA-256 only (the token is shown once, by `xuncha push-token CODE`).
CREATE TABLE audit.push_tokens (
    county_code  text        PRIMARY KEY,
    token_sha256 text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row = one export accepted into a county's landing area by the push intake (the receipt).
CREATE TABLE audit.pushes (
    county_code   text        NOT NULL,
    export_id     text        NOT NULL,
    business_date date,
    received_at   timestamptz NOT NULL DEFAULT now(),
    bytes         bigint      NOT NULL,
    files         jsonb       NOT NULL,      -- [{path, sha256, bytes}]
    run_id        text,                      -- the xuncha_nightly run it triggered
    PRIMARY KEY (county_code, export_id)
);
