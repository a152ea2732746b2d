DROP INDEX messages_retention_idx;

--bun:split

ALTER TABLE messages DROP COLUMN erased_at;

--bun:split

ALTER TABLE apps DROP COLUMN retention_days;
