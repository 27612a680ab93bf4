-- The project an audited resource belongs to, so project admins can read their projects' entries.
ALTER TABLE audit ADD COLUMN project TEXT NOT NULL DEFAULT '';

CREATE INDEX audit_project ON audit (project, id);
