-- Projects (Slurm accounts), users (Unix logins), memberships, API tokens and the audit trail.
-- Times are INTEGER nanoseconds since the Unix epoch (UTC); NULL means "never".

CREATE TABLE projects (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    site_admin INTEGER NOT NULL DEFAULT 0,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    project TEXT NOT NULL REFERENCES projects (name),
    user    TEXT NOT NULL REFERENCES users (name),
    role    TEXT NOT NULL CHECK (role IN ('member', 'admin')),
    PRIMARY KEY (project, user)
);

CREATE INDEX memberships_user ON memberships (user);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user         TEXT NOT NULL REFERENCES users (name),
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE, -- only a hash of the secret is kept
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE INDEX tokens_user ON tokens (user, created_at);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    resource TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT '',
    remote   TEXT NOT NULL DEFAULT '',
    result   TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_action ON audit (action, id);

-- The trail is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
