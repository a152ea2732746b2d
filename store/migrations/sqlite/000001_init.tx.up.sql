-- Herald's initial schema for SQLite. Times are TIMESTAMP so the driver reads
-- them back as times; bun writes them as UTC text with a fixed layout, which
-- also makes them compare correctly as text. JSON values are TEXT; secrets and
-- provider configs are stored sealed (BLOB) by the store's cipher.

CREATE TABLE apps (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    secret_enc            BLOB NOT NULL,
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    ip_allowlist          TEXT,
    rate_limit_per_second INTEGER NOT NULL DEFAULT 0,
    status_callback_url   TEXT NOT NULL DEFAULT '',
    callback_secret_enc   BLOB NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);

--bun:split

CREATE TABLE templates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL DEFAULT '',
    subject      TEXT NOT NULL DEFAULT '',
    content      TEXT NOT NULL DEFAULT '',
    variables    TEXT,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

--bun:split

CREATE TABLE channels (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    name                    TEXT NOT NULL,
    type                    TEXT NOT NULL,
    template_id             INTEGER REFERENCES templates (id) ON DELETE SET NULL,
    signature_names         TEXT,
    signature_required      BOOLEAN NOT NULL DEFAULT FALSE,
    enabled                 BOOLEAN NOT NULL DEFAULT TRUE,
    receipt_timeout_seconds INTEGER NOT NULL DEFAULT 0,
    max_attempts            INTEGER NOT NULL DEFAULT 0,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL,
    CONSTRAINT channels_name_key UNIQUE (name)
);

--bun:split

CREATE INDEX channels_type_idx ON channels (type);

--bun:split

CREATE TABLE provider_accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    config_enc     BLOB NOT NULL,
    weight         INTEGER NOT NULL DEFAULT 1,
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    callback_token TEXT NOT NULL DEFAULT '',
    rate_limit_per_minute INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

--bun:split

CREATE TABLE channel_accounts (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES provider_accounts (id) ON DELETE CASCADE,
    weight     INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel_id, account_id)
);

--bun:split

CREATE INDEX channel_accounts_account_id_idx ON channel_accounts (account_id);

--bun:split

CREATE TABLE template_mappings (
    template_id   INTEGER NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    account_id    INTEGER NOT NULL REFERENCES provider_accounts (id) ON DELETE CASCADE,
    provider_code TEXT NOT NULL,
    param_order   TEXT,
    param_names   TEXT,
    PRIMARY KEY (template_id, account_id)
);

--bun:split

CREATE TABLE rules (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    scene          TEXT NOT NULL DEFAULT '',
    priority       INTEGER NOT NULL DEFAULT 0,
    provider_kind  TEXT NOT NULL DEFAULT '',
    message_type   TEXT NOT NULL DEFAULT '',
    error_codes    TEXT NOT NULL DEFAULT '',
    error_keywords TEXT NOT NULL DEFAULT '',
    action         TEXT NOT NULL,
    max_retry      INTEGER NOT NULL DEFAULT 0,
    delay_seconds  INTEGER NOT NULL DEFAULT 0,
    backoff_rate   REAL NOT NULL DEFAULT 0,
    then_action    TEXT NOT NULL DEFAULT '',
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

--bun:split

CREATE INDEX rules_priority_idx ON rules (priority, id) WHERE enabled = TRUE;

--bun:split

CREATE TABLE batches (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    channel_id      INTEGER NOT NULL,
    total_count     INTEGER NOT NULL DEFAULT 0,
    success_count   INTEGER NOT NULL DEFAULT 0,
    failed_count    INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT NOT NULL DEFAULT '',
    request_hash    TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL
);

--bun:split

CREATE UNIQUE INDEX batches_app_id_idempotency_key_key ON batches (app_id, idempotency_key)
    WHERE idempotency_key <> '';

--bun:split

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id             TEXT NOT NULL,
    batch_id            TEXT NOT NULL DEFAULT '',
    app_id              TEXT NOT NULL,
    channel_id          INTEGER NOT NULL,
    message_type        TEXT NOT NULL DEFAULT '',
    receiver            TEXT NOT NULL,
    subject             TEXT NOT NULL DEFAULT '',
    content             TEXT NOT NULL DEFAULT '',
    template_params     TEXT,
    signature_name      TEXT NOT NULL DEFAULT '',
    attachments         TEXT,
    status              TEXT NOT NULL,
    callback_status     TEXT NOT NULL DEFAULT '',
    account_id          INTEGER,
    provider_message_id TEXT NOT NULL DEFAULT '',
    attempt_count       INTEGER NOT NULL DEFAULT 0,
    max_attempts        INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT NOT NULL DEFAULT '',
    scheduled_at        TIMESTAMP,
    idempotency_key     TEXT NOT NULL DEFAULT '',
    request_hash        TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    CONSTRAINT messages_task_id_key UNIQUE (task_id)
);

--bun:split

CREATE INDEX messages_status_updated_at_idx ON messages (status, updated_at);

--bun:split

CREATE INDEX messages_batch_id_idx ON messages (batch_id) WHERE batch_id <> '';

--bun:split

CREATE UNIQUE INDEX messages_app_id_idempotency_key_key ON messages (app_id, idempotency_key)
    WHERE idempotency_key <> '';

--bun:split

-- Replies name only the account and the number that answered; this finds
-- the message they answer.
CREATE INDEX messages_account_id_receiver_idx ON messages (account_id, receiver);

--bun:split

CREATE TABLE message_provider_ids (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id             TEXT NOT NULL REFERENCES messages (task_id) ON DELETE CASCADE,
    account_id          INTEGER NOT NULL,
    provider_message_id TEXT NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    CONSTRAINT message_provider_ids_account_id_provider_message_id_key
        UNIQUE (account_id, provider_message_id)
);

--bun:split

CREATE INDEX message_provider_ids_task_id_idx ON message_provider_ids (task_id);

--bun:split

CREATE TABLE message_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT NOT NULL REFERENCES messages (task_id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT '',
    account_id INTEGER,
    code       TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '',
    data       TEXT,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT message_events_task_id_seq_key UNIQUE (task_id, seq)
);
