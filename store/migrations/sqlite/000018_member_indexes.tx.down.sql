DROP INDEX messages_account_id_receiver_key_idx;

--bun:split

CREATE INDEX messages_account_id_receiver_key_idx ON messages (account_id, receiver_key, created_at);

--bun:split

DROP INDEX messages_account_created_at_idx;

--bun:split

CREATE INDEX messages_account_created_at_idx ON messages (account_id, created_at, task_id);

--bun:split

DROP INDEX messages_status_updated_at_idx;

--bun:split

CREATE INDEX messages_status_updated_at_idx ON messages (status, updated_at);

--bun:split

CREATE INDEX messages_batch_id_idx ON messages (batch_id) WHERE batch_id <> '';
