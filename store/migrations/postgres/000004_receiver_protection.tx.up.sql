-- Receiver protection: a template's kind (verification templates get
-- default per-receiver caps and bypass the suppression list), per-receiver
-- caps on channels and templates as JSON {per_minute, per_hour, per_day}
-- (NULL: none set), the countries an SMS channel may send to (NULL: every
-- country its accounts support), and the receivers who opted out, keyed by
-- the keyed receiver hash and never stored in plain form.

ALTER TABLE templates ADD COLUMN kind TEXT NOT NULL DEFAULT '';

--bun:split

ALTER TABLE templates ADD COLUMN receiver_caps TEXT;

--bun:split

ALTER TABLE channels ADD COLUMN receiver_caps TEXT;

--bun:split

ALTER TABLE channels ADD COLUMN allowed_countries TEXT;

--bun:split

CREATE TABLE suppressions (
    id BIGSERIAL PRIMARY KEY,
    app_id TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    receiver_key TEXT NOT NULL,
    receiver_masked TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (app_id, channel_type, receiver_key)
);
