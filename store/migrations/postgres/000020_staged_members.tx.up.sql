-- A batch-workflow batch is accepted with its receivers stored as runs
-- (batch_receivers: one row per run of up to a thousand, sealed), not as
-- message rows: a message row pays for every index of messages, and a
-- 100,000-receiver request must be answered in well under two seconds.
-- The batch's chunks, its background expansion, or a read of one member
-- turn runs into message rows (and delete them) in one transaction.
--
-- A member's task id is its batch's member_prefix followed by its
-- batch_seq as eight hex digits, so a task id finds its run before its
-- row exists. member_defaults holds, as JSON, the fields every member row
-- starts with (status, attempts, expiry, priority, quota reservation,
-- SMS segments). Both are empty for batches accepted before.

ALTER TABLE batches ADD COLUMN member_prefix TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN member_defaults TEXT NOT NULL DEFAULT '';

--bun:split

CREATE UNIQUE INDEX batches_member_prefix_key ON batches (member_prefix) WHERE member_prefix <> '';

--bun:split

CREATE TABLE batch_receivers (
    id BIGSERIAL PRIMARY KEY,
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    first_seq INTEGER NOT NULL,
    receiver_count INTEGER NOT NULL,
    receivers TEXT NOT NULL
);

--bun:split

CREATE UNIQUE INDEX batch_receivers_batch_id_first_seq_key ON batch_receivers (batch_id, first_seq);
