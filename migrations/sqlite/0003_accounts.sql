-- People who use the support UI (CONTRACT §5), their sessions, reveal grants
-- and the audit log.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    role                TEXT NOT NULL CHECK (role IN ('support', 'admin')),
    password_hash       TEXT NOT NULL,
    timezone            TEXT NOT NULL DEFAULT 'UTC',
    -- Bumped when the password changes or the account is disabled: sessions
    -- carry the generation they were opened under and die when it moves.
    session_generation  INTEGER NOT NULL DEFAULT 0,
    disabled_at_us      INTEGER,
    created_at_us       INTEGER NOT NULL,
    updated_at_us       INTEGER NOT NULL
);

-- One-time links to create the first admin; only a digest is kept.
CREATE TABLE setup_tokens (
    digest         TEXT PRIMARY KEY,
    created_at_us  INTEGER NOT NULL,
    expires_at_us  INTEGER NOT NULL,
    used_at_us     INTEGER
);

CREATE TABLE reveal_grants (
    id             INTEGER PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    granted_by     TEXT NOT NULL REFERENCES users (id),
    reason         TEXT NOT NULL,
    created_at_us  INTEGER NOT NULL,
    expires_at_us  INTEGER NOT NULL,
    revoked_at_us  INTEGER,
    revoked_by     TEXT REFERENCES users (id)
);
CREATE INDEX reveal_grants_user ON reveal_grants (user_id, expires_at_us);

-- Append-only: the triggers below refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    at_us        INTEGER NOT NULL,
    actor_id     TEXT,
    actor_email  TEXT,
    action       TEXT NOT NULL,
    target       TEXT,
    message_id   TEXT,
    reason       TEXT,
    client_addr  TEXT,
    detail       TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_us);
CREATE INDEX audit_log_actor ON audit_log (actor_email, at_us);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- How many times each stored callback was delivered again after the first.
CREATE TABLE event_duplicates (
    event_id             INTEGER PRIMARY KEY REFERENCES message_events (id),
    count                INTEGER NOT NULL,
    last_received_at_us  INTEGER NOT NULL
);

ALTER TABLE api_tokens ADD COLUMN created_by TEXT;

-- Search keys and the result order (newest first, keyset by id).
CREATE INDEX messages_user_ref ON messages (user_ref);
CREATE INDEX messages_product_action_ref ON messages (product_action_ref);
CREATE INDEX messages_created ON messages (created_at_us, id);

-- The schema tower-sessions-sqlx-store expects, named here so that
-- `smstrail migrate` creates everything.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    data         BLOB NOT NULL,
    expiry_date  INTEGER NOT NULL
);
