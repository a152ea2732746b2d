-- Message quotas. quotas holds the limits of an app (channel_id 0) or of
-- an app on one channel; a limit of 0 means none. quota_usage is the
-- ledger: per quota scope and period, the units reserved by accepted
-- messages not yet settled and the units committed by messages a
-- provider accepted. A message records which scopes it reserved and the
-- period keys, so settling it is idempotent.

ALTER TABLE apps ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';

--bun:split

CREATE TABLE quotas (
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL DEFAULT 0,
    daily      INTEGER NOT NULL DEFAULT 0,
    monthly    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, channel_id)
);

--bun:split

CREATE TABLE quota_usage (
    app_id       TEXT NOT NULL,
    channel_id   INTEGER NOT NULL,
    period       TEXT NOT NULL,
    period_start TEXT NOT NULL,
    reserved     INTEGER NOT NULL DEFAULT 0,
    committed    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, channel_id, period, period_start)
);

--bun:split

ALTER TABLE messages ADD COLUMN quota_state TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE messages ADD COLUMN quota_scopes INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE messages ADD COLUMN quota_day TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE messages ADD COLUMN quota_month TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE messages ADD COLUMN sms_segments INTEGER NOT NULL DEFAULT 0;

--bun:split

-- Reconciliation counts a period's messages by their quota keys.
CREATE INDEX messages_quota_day ON messages (app_id, quota_day) WHERE quota_state <> '';

--bun:split

CREATE INDEX messages_quota_month ON messages (app_id, quota_month) WHERE quota_state <> '';
