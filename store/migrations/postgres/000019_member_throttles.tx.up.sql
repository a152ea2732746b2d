-- A throttled batch member is sent again later without using up an
-- attempt; these count the refusals and the time they held it back, so
-- its waits grow and a member throttled for good ends, as a single send
-- does.
ALTER TABLE messages ADD COLUMN throttled_count INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE messages ADD COLUMN deferred_ms BIGINT NOT NULL DEFAULT 0;
