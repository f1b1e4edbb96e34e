-- Guided backfill (issue #10): at most one pending re-collection per
-- (account, stream). position is the collector's own JSON for how far the
-- re-collection got; delivered and skipped count its records so far.
CREATE TABLE backfills (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stream     TEXT    NOT NULL,
    from_time  INTEGER NOT NULL, -- unix ms
    to_time    INTEGER NOT NULL, -- unix ms
    requested  INTEGER NOT NULL, -- unix ms
    delivered  INTEGER NOT NULL DEFAULT 0,
    skipped    INTEGER NOT NULL DEFAULT 0,
    position   BLOB,
    PRIMARY KEY (account_id, stream)
);

-- Duplicate suppression that survives restarts (issue #10): identities
-- (64-bit keys) of records delivered by the paged log streams, written in
-- the same transaction as the position they belong to and bounded per
-- (account, stream) by store.MaxDeliveredKeys, oldest first.
CREATE TABLE delivered (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stream     TEXT    NOT NULL,
    key        INTEGER NOT NULL,
    seq        INTEGER NOT NULL, -- unix ms when recorded, for the bound
    PRIMARY KEY (account_id, stream, key)
) WITHOUT ROWID;

CREATE INDEX delivered_by_age ON delivered (account_id, stream, seq);
