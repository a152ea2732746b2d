DROP TABLE breaker_events;

--bun:split

DROP TABLE breaker_states;

--bun:split

ALTER TABLE provider_accounts DROP COLUMN breaker;
