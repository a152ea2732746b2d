DROP INDEX messages_batch_seq_idx;

--bun:split

ALTER TABLE messages DROP COLUMN sent_at;

--bun:split

ALTER TABLE messages DROP COLUMN failed_accounts;

--bun:split

ALTER TABLE messages DROP COLUMN next_attempt_at;

--bun:split

ALTER TABLE messages DROP COLUMN batch_seq;

--bun:split

ALTER TABLE batches DROP COLUMN finished_at;

--bun:split

ALTER TABLE batches DROP COLUMN updated_at;

--bun:split

ALTER TABLE batches DROP COLUMN scheduled_at;

--bun:split

ALTER TABLE batches DROP COLUMN signature_name;

--bun:split

ALTER TABLE batches DROP COLUMN template_params;

--bun:split

ALTER TABLE batches DROP COLUMN content;

--bun:split

ALTER TABLE batches DROP COLUMN subject;

--bun:split

ALTER TABLE batches DROP COLUMN message_type;

--bun:split

ALTER TABLE batches DROP COLUMN workflow_id;

--bun:split

ALTER TABLE batches DROP COLUMN status;
