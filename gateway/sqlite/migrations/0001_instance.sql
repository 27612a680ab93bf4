-- The gateway's own identity: one row per key, written once at first start.
CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
