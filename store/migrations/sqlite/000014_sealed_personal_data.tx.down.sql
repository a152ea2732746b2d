DROP INDEX messages_account_id_receiver_key_idx;
CREATE INDEX messages_account_id_receiver_idx ON messages (account_id, receiver);
