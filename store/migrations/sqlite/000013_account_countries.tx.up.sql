-- The countries a provider account sends to, as a JSON list of ISO 3166
-- regions or ["international"] (every region but mainland China); NULL
-- or empty: every country its provider reaches.

ALTER TABLE provider_accounts ADD COLUMN countries TEXT;
