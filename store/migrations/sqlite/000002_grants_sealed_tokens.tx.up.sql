-- Apps are bound to the channels they are granted. Every app existing now is
-- granted every channel existing now, so clients keep working unchanged.

CREATE TABLE app_channels (
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, channel_id)
);

--bun:split

CREATE INDEX app_channels_channel_id_idx ON app_channels (channel_id);

--bun:split

INSERT INTO app_channels (app_id, channel_id)
SELECT apps.id, channels.id FROM apps CROSS JOIN channels;

--bun:split

-- Callback tokens are sealed by the store's cipher like other secrets. SQL
-- has no master key: a token still in callback_token is sealed into
-- callback_token_enc, and cleared, when Herald opens the store with its key
-- (store.SealLegacyCallbackTokens) or reads the account, whichever is first.
ALTER TABLE provider_accounts ADD COLUMN callback_token_enc BLOB;
