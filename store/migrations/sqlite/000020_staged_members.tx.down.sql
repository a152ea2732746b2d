DROP TABLE IF EXISTS batch_receivers;

--bun:split

DROP INDEX IF EXISTS batches_member_prefix_key;

--bun:split

ALTER TABLE batches DROP COLUMN member_defaults;

--bun:split

ALTER TABLE batches DROP COLUMN member_prefix;
