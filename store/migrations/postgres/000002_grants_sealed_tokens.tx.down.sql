-- Tokens sealed since the up migration cannot be recovered in SQL; accounts
-- whose token is only sealed need a new token (herald apply) after this.
ALTER TABLE provider_accounts DROP COLUMN IF EXISTS callback_token_enc;
--bun:split
DROP TABLE IF EXISTS app_channels;
