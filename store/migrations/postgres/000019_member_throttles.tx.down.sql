ALTER TABLE messages DROP COLUMN deferred_ms;

--bun:split

ALTER TABLE messages DROP COLUMN throttled_count;
