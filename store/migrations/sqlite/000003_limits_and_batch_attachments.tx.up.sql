-- Per-app limits in the predecessor's shape (requests per minute with a
-- burst) and a per-app message rate counted in receivers; 0 means the
-- server default. A batch's attachments are stored once, on the batch, and
-- every message of the batch refers to them through its batch id.

ALTER TABLE apps ADD COLUMN requests_per_minute INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE apps ADD COLUMN burst INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE apps ADD COLUMN messages_per_minute INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE batches ADD COLUMN attachments TEXT;
