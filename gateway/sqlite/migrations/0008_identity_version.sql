-- A counter that moves with every change that can change who a token authenticates as: tokens
-- (created, deleted, revoked, re-dated), users (disabled, made site admin) and memberships. The
-- gateway keeps authenticated principals in memory and reuses them while the counter stands still,
-- so a change made by any process (the admin CLI included) takes effect on the next request.
-- last_used_at is written by authentication itself and does not move it.

CREATE TABLE identity_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO identity_version (id, version) VALUES (1, 0);

CREATE TRIGGER tokens_insert_identity AFTER INSERT ON tokens
BEGIN UPDATE identity_version SET version = version + 1; END;
CREATE TRIGGER tokens_delete_identity AFTER DELETE ON tokens
BEGIN UPDATE identity_version SET version = version + 1; END;
CREATE TRIGGER tokens_update_identity AFTER UPDATE OF id, user, hash, expires_at, revoked_at ON tokens
BEGIN UPDATE identity_version SET version = version + 1; END;

CREATE TRIGGER users_insert_identity AFTER INSERT ON users
BEGIN UPDATE identity_version SET version = version + 1; END;
CREATE TRIGGER users_delete_identity AFTER DELETE ON users
BEGIN UPDATE identity_version SET version = version + 1; END;
CREATE TRIGGER users_update_identity AFTER UPDATE ON users
BEGIN UPDATE identity_version SET version = version + 1; END;

CREATE TRIGGER memberships_insert_identity AFTER INSERT ON memberships
BEGIN UPDATE identity_version SET version = version + 1; END;
CREATE TRIGGER memberships_delete_identity AFTER DELETE ON memberships
BEGIN UPDATE identity_version SET version = version + 1; END;
CREATE TRIGGER memberships_update_identity AFTER UPDATE ON memberships
BEGIN UPDATE identity_version SET version = version + 1; END;
