-- Accounts: one row per Mimecast account connection. Secrets live sealed in
-- account_secrets, never in this table.
CREATE TABLE accounts (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT    NOT NULL,
    enabled                INTEGER NOT NULL DEFAULT 1,
    api_version            TEXT    NOT NULL,
    base_url               TEXT    NOT NULL,
    client_id              TEXT    NOT NULL DEFAULT '',
    app_id                 TEXT    NOT NULL DEFAULT '',
    streams                TEXT    NOT NULL, -- JSON array of stream names
    schedule               TEXT    NOT NULL,
    log_source_identifier  TEXT    NOT NULL,
    initial_lookback_hours INTEGER NOT NULL,
    created_at             INTEGER NOT NULL, -- unix ms
    updated_at             INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_name ON accounts (name COLLATE NOCASE);
CREATE UNIQUE INDEX accounts_log_source_identifier ON accounts (log_source_identifier COLLATE NOCASE);

CREATE TABLE account_secrets (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    field      TEXT    NOT NULL,
    sealed     TEXT    NOT NULL,
    PRIMARY KEY (account_id, field)
);

-- Checkpoints: an opaque, versioned JSON blob per (account, stream), owned by
-- the collector.
CREATE TABLE checkpoints (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stream     TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, stream)
);

CREATE TABLE stream_state (
    account_id       INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stream           TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    last_run_started INTEGER,
    last_run_ended   INTEGER,
    last_success     INTEGER,
    events_last_run  INTEGER NOT NULL DEFAULT 0,
    events_total     INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    newest_event     INTEGER,
    PRIMARY KEY (account_id, stream)
);

CREATE TABLE runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stream     TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_account_stream ON runs (account_id, stream, started_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- QRadar objects the app manages. Not tied to accounts by a foreign key: a
-- deleted account's log source must be remembered so it can be disabled, and
-- re-enabled if the account comes back.
CREATE TABLE qradar_objects (
    key        TEXT PRIMARY KEY,
    object     TEXT    NOT NULL,
    account_id INTEGER NOT NULL DEFAULT 0,
    name       TEXT    NOT NULL,
    qradar_id  TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL,
    last_error TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
