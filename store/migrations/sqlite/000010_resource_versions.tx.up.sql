-- Optimistic concurrency for the operators' API: every configurable
-- object carries a version, 1 when created and one more on every update.
ALTER TABLE apps ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

--bun:split

ALTER TABLE channels ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

--bun:split

ALTER TABLE provider_accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

--bun:split

ALTER TABLE templates ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

--bun:split

ALTER TABLE rules ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
