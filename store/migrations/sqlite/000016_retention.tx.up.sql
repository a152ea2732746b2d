-- Per-app retention: retention_days is how long the personal data of an
-- app's final messages (receiver, its keyed hash, subject, content,
-- template params, attachments, reply texts) is kept; 0 keeps it for
-- ever. erased_at is when that data was erased, by retention or by an
-- erasure request; the row, its status, timestamps and the statistics
-- rollups stay.

ALTER TABLE apps ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE messages ADD COLUMN erased_at TIMESTAMP;

--bun:split

-- Retention reads an app's oldest messages not yet erased; erased rows
-- leave the index, so it shrinks as retention catches up.
CREATE INDEX messages_retention_idx ON messages (app_id, created_at) WHERE erased_at IS NULL;
