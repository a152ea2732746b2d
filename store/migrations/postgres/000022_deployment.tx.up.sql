-- The deployment's identity: a random id made once, when the store is
-- created (or first migrated to this version), and kept by backups and
-- restores. Redis keys named after the store's own ids (account pacing)
-- carry it, so two stores sharing one Redis database (two deployments,
-- or test runs) never share a counter because their ids coincide.

CREATE TABLE deployment (
    id TEXT PRIMARY KEY
);

--bun:split

INSERT INTO deployment (id) VALUES (md5(random()::text || clock_timestamp()::text));
