-- Circuit breakers per provider account. An account's "breaker" column
-- holds its thresholds as JSON (empty: the defaults). breaker_states is
-- the state each account's breaker workflow publishes, read by senders;
-- probes_used counts probe sends taken in the current half-open round.
-- breaker_events is the audit trail of transitions.

ALTER TABLE provider_accounts ADD COLUMN breaker TEXT NOT NULL DEFAULT '';

--bun:split

CREATE TABLE breaker_states (
    account_id      INTEGER PRIMARY KEY REFERENCES provider_accounts (id) ON DELETE CASCADE,
    state           TEXT NOT NULL,
    since           TIMESTAMP NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    forced          BOOLEAN NOT NULL DEFAULT FALSE,
    half_open_at    TIMESTAMP,
    round           INTEGER NOT NULL DEFAULT 0,
    probes          INTEGER NOT NULL DEFAULT 0,
    probes_used     INTEGER NOT NULL DEFAULT 0,
    window_failures INTEGER NOT NULL DEFAULT 0,
    window_total    INTEGER NOT NULL DEFAULT 0,
    updated_at      TIMESTAMP NOT NULL
);

--bun:split

CREATE TABLE breaker_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES provider_accounts (id) ON DELETE CASCADE,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL DEFAULT '',
    forced     BOOLEAN NOT NULL DEFAULT FALSE,
    at         TIMESTAMP NOT NULL
);

--bun:split

-- One row per transition even when a publish is retried.
CREATE UNIQUE INDEX breaker_events_account_at ON breaker_events (account_id, at, to_state);
