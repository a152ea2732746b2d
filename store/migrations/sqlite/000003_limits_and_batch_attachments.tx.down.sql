ALTER TABLE batches DROP COLUMN attachments;
--bun:split
ALTER TABLE apps DROP COLUMN messages_per_minute;
--bun:split
ALTER TABLE apps DROP COLUMN burst;
--bun:split
ALTER TABLE apps DROP COLUMN requests_per_minute;
