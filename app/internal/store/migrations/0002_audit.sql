-- Audit trail of configuration changes: who changed what, when. Append-only:
-- rows are never updated; the oldest are deleted to keep the table bounded
-- (store.AuditMaxEntries). details is a JSON object of strings and never
-- holds a secret (a changed secret is recorded as "changed").
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL, -- unix ms
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    details TEXT    NOT NULL DEFAULT '{}'
);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
