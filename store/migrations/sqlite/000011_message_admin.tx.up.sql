-- Operators' view of messages. receiver_key is the keyed receiver hash
-- (ReceiverKeyer), so the admin list finds one receiver without a plain
-- text scan; rows accepted before this migration keep '' and are not
-- found by receiver. redriven_to and redriven_from link a resent task and
-- its original both ways. A decision event's inputs holds the structured
-- facts the rules decided on (JSON), so a draft rule set can be replayed
-- against them.

ALTER TABLE messages ADD COLUMN receiver_key TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE messages ADD COLUMN redriven_to TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE messages ADD COLUMN redriven_from TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE message_events ADD COLUMN inputs TEXT;

--bun:split

-- The admin list reads newest first by (created_at, task_id); each index
-- below ends in that order so a filtered page is an index range scan.
CREATE INDEX messages_created_at_task_id_idx ON messages (created_at, task_id);

--bun:split

CREATE INDEX messages_status_created_at_idx ON messages (status, created_at, task_id);

--bun:split

CREATE INDEX messages_app_channel_created_at_idx ON messages (app_id, channel_id, created_at, task_id);

--bun:split

CREATE INDEX messages_receiver_key_created_at_idx ON messages (receiver_key, created_at, task_id);

--bun:split

CREATE INDEX messages_account_created_at_idx ON messages (account_id, created_at, task_id);

--bun:split

-- Re-drives by query: one row per re-drive workflow, for listing and for
-- progress once the workflow has finished.
CREATE TABLE redrives (
    id          TEXT PRIMARY KEY,
    filter      TEXT NOT NULL DEFAULT '{}',
    account_id  BIGINT,
    status      TEXT NOT NULL,
    matched     INTEGER NOT NULL DEFAULT 0,
    resent      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

--bun:split

CREATE INDEX redrives_created_at_idx ON redrives (created_at);
