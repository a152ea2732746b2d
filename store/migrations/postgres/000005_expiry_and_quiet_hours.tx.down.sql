ALTER TABLE apps DROP COLUMN quiet_hours;

--bun:split

ALTER TABLE channels DROP COLUMN quiet_hours;

--bun:split

ALTER TABLE channels DROP COLUMN default_ttl_seconds;

--bun:split

ALTER TABLE templates DROP COLUMN critical;

--bun:split

ALTER TABLE templates DROP COLUMN ttl_seconds;

--bun:split

ALTER TABLE messages DROP COLUMN held_until;

--bun:split

ALTER TABLE messages DROP COLUMN priority;

--bun:split

ALTER TABLE messages DROP COLUMN expires_at;
