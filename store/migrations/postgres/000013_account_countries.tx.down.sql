ALTER TABLE provider_accounts DROP COLUMN countries;
