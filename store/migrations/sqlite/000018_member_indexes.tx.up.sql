-- A batch stores its members as messages in one statement, so every index
-- on messages is paid per receiver at accept. These indexes leave out the
-- rows their queries never look for.

-- messages_batch_seq_idx (batch_id, batch_seq) serves every lookup by batch.
DROP INDEX messages_batch_id_idx;

--bun:split

-- Only the sweeper reads by status and age, and only single sends.
DROP INDEX messages_status_updated_at_idx;

--bun:split

CREATE INDEX messages_status_updated_at_idx ON messages (status, updated_at) WHERE batch_seq = 0;

--bun:split

-- Lookups by account name one; a member waiting to be sent has none yet.
DROP INDEX messages_account_created_at_idx;

--bun:split

CREATE INDEX messages_account_created_at_idx ON messages (account_id, created_at, task_id) WHERE account_id IS NOT NULL;

--bun:split

DROP INDEX messages_account_id_receiver_key_idx;

--bun:split

CREATE INDEX messages_account_id_receiver_key_idx ON messages (account_id, receiver_key, created_at) WHERE account_id IS NOT NULL;
