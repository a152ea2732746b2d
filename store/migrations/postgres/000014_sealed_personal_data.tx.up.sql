-- Receivers, contents and replies are now stored sealed, so an index on
-- the receiver column finds nothing. Replies find the message they answer
-- by the keyed receiver hash instead.
DROP INDEX messages_account_id_receiver_idx;
CREATE INDEX messages_account_id_receiver_key_idx ON messages (account_id, receiver_key, created_at);
