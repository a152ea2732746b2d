-- Every message has an expiry: the request's, else its channel template's
-- ttl_seconds, else the channel's default_ttl_seconds (0: 24 hours). NULL on
-- messages accepted before expiries existed: they never expire. Quiet hours
-- are a JSON object {start, end, time_zone} on a channel, which an app's
-- own quiet_hours replaces for that app's messages; a critical template or
-- a message with priority critical ignores them. held_until is when a
-- pending message waiting for quiet hours to end is released, so the
-- sweeper does not take it for a message whose workflow never started.

ALTER TABLE messages ADD COLUMN expires_at TIMESTAMP;

--bun:split

ALTER TABLE messages ADD COLUMN priority TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE messages ADD COLUMN held_until TIMESTAMP;

--bun:split

ALTER TABLE templates ADD COLUMN ttl_seconds INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE templates ADD COLUMN critical BOOLEAN NOT NULL DEFAULT FALSE;

--bun:split

ALTER TABLE channels ADD COLUMN default_ttl_seconds INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE channels ADD COLUMN quiet_hours TEXT;

--bun:split

ALTER TABLE apps ADD COLUMN quiet_hours TEXT;
