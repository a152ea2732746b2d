DROP TABLE redrives;

--bun:split

DROP INDEX messages_account_created_at_idx;

--bun:split

DROP INDEX messages_receiver_key_created_at_idx;

--bun:split

DROP INDEX messages_app_channel_created_at_idx;

--bun:split

DROP INDEX messages_status_created_at_idx;

--bun:split

DROP INDEX messages_created_at_task_id_idx;

--bun:split

ALTER TABLE message_events DROP COLUMN inputs;

--bun:split

ALTER TABLE messages DROP COLUMN redriven_from;

--bun:split

ALTER TABLE messages DROP COLUMN redriven_to;

--bun:split

ALTER TABLE messages DROP COLUMN receiver_key;
