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
    session_generation  BIGINT NOT NULL DEFAULT 0,
    disabled_at_us      BIGINT,
    created_at_us       BIGINT NOT NULL,
    updated_at_us       BIGINT NOT NULL
);

-- One-time links to create the first admin; only a digest is kept.
CREATE TABLE setup_tokens (
    digest         TEXT PRIMARY KEY,
    created_at_us  BIGINT NOT NULL,
    expires_at_us  BIGINT NOT NULL,
    used_at_us     BIGINT
);

CREATE TABLE reveal_grants (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    granted_by     TEXT NOT NULL REFERENCES users (id),
    reason         TEXT NOT NULL,
    created_at_us  BIGINT NOT NULL,
    expires_at_us  BIGINT NOT NULL,
    revoked_at_us  BIGINT,
    revoked_by     TEXT REFERENCES users (id)
);
CREATE INDEX reveal_grants_user ON reveal_grants (user_id, expires_at_us);

-- Append-only: the trigger below refuses every UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_us        BIGINT NOT NULL,
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
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- How many times each stored callback was delivered again after the first.
CREATE TABLE event_duplicates (
    event_id             BIGINT PRIMARY KEY REFERENCES message_events (id),
    count                BIGINT NOT NULL,
    last_received_at_us  BIGINT NOT NULL
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
    data         BYTEA NOT NULL,
    expiry_date  TIMESTAMPTZ NOT NULL
);
