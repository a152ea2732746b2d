DROP TABLE suppressions;
--bun:split
ALTER TABLE channels DROP COLUMN allowed_countries;
--bun:split
ALTER TABLE channels DROP COLUMN receiver_caps;
--bun:split
ALTER TABLE templates DROP COLUMN receiver_caps;
--bun:split
ALTER TABLE templates DROP COLUMN kind;
