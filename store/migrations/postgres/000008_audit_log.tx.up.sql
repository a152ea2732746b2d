-- The audit log: one row per write made through the admin API or a
-- direct command (herald apply, herald admin ...). diff is JSON mapping
-- each changed field to [before, after], secrets already redacted.

CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    diff        TEXT NOT NULL DEFAULT '{}',
    client_ip   TEXT NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);

--bun:split

CREATE INDEX audit_log_actor ON audit_log (actor, id);
