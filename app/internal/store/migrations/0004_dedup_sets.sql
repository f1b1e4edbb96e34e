-- The batch SIEM streams' duplicate filters: per (account, stream) one
-- encoded key set per log type, written in the same transaction as the
-- checkpoint they belong to, only for the types that changed.
CREATE TABLE dedup_sets (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stream     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (account_id, stream, name)
);
