ALTER TABLE apps DROP COLUMN version;

--bun:split

ALTER TABLE channels DROP COLUMN version;

--bun:split

ALTER TABLE provider_accounts DROP COLUMN version;

--bun:split

ALTER TABLE templates DROP COLUMN version;

--bun:split

ALTER TABLE rules DROP COLUMN version;
