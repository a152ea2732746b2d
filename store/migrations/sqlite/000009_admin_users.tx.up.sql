-- Operators of the admin API. password_hash is an argon2id PHC string.
-- token_version is bumped whenever a user's role, password or enabled
-- state changes: access tokens carry it and stop working when it moves.
-- version is the optimistic-concurrency version of the resource.

CREATE TABLE admin_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    token_version INTEGER NOT NULL DEFAULT 1,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

--bun:split

-- Refresh tokens, stored as SHA-256 hashes. Every refresh rotates the
-- token: the old row gets rotated_at and a new row joins the same family.
-- Presenting a rotated token again revokes the family.

CREATE TABLE admin_refresh_tokens (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash        TEXT NOT NULL UNIQUE,
    family_id         TEXT NOT NULL,
    user_id           INTEGER NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    family_expires_at TIMESTAMP NOT NULL,
    rotated_at        TIMESTAMP,
    revoked_at        TIMESTAMP
);

--bun:split

CREATE INDEX admin_refresh_tokens_family ON admin_refresh_tokens (family_id);

--bun:split

CREATE INDEX admin_refresh_tokens_user ON admin_refresh_tokens (user_id);

--bun:split

CREATE INDEX admin_refresh_tokens_expiry ON admin_refresh_tokens (family_expires_at);

--bun:split

-- Failed sign-ins per (username, client IP): the back-off state.

CREATE TABLE admin_login_failures (
    username        TEXT NOT NULL,
    client_ip       TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,
    PRIMARY KEY (username, client_ip)
);

--bun:split

CREATE INDEX admin_login_failures_last ON admin_login_failures (last_failure_at);
