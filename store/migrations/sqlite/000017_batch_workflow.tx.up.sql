-- Batches run as one workflow each. A batch row now carries what its
-- members share (subject, content and template parameters, sealed like a
-- message's), its own status and the id of its workflow; workflow_id is
-- empty for batches accepted before, whose members each have a workflow.
-- Members are numbered by batch_seq so the batch workflow loads them by
-- (batch, range), never as a list in its own history.

ALTER TABLE batches ADD COLUMN status TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN workflow_id TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN message_type TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN subject TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN content TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN template_params TEXT;

--bun:split

ALTER TABLE batches ADD COLUMN signature_name TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE batches ADD COLUMN scheduled_at TIMESTAMP;

--bun:split

ALTER TABLE batches ADD COLUMN updated_at TIMESTAMP;

--bun:split

ALTER TABLE batches ADD COLUMN finished_at TIMESTAMP;

--bun:split

ALTER TABLE messages ADD COLUMN batch_seq INTEGER NOT NULL DEFAULT 0;

--bun:split

-- When a member waiting for a retry is due again.
ALTER TABLE messages ADD COLUMN next_attempt_at TIMESTAMP;

--bun:split

-- Accounts a member was switched away from, comma-separated ids.
ALTER TABLE messages ADD COLUMN failed_accounts TEXT NOT NULL DEFAULT '';

--bun:split

-- When the provider accepted the member's current attempt; its receipt
-- timeout runs from here.
ALTER TABLE messages ADD COLUMN sent_at TIMESTAMP;

--bun:split

CREATE INDEX messages_batch_seq_idx ON messages (batch_id, batch_seq) WHERE batch_id <> '';
