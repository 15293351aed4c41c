-- Instants are microseconds since the Unix epoch (*_us), as on PostgreSQL.

CREATE TABLE messages (
    id                    TEXT PRIMARY KEY,
    idempotency_key       TEXT NOT NULL UNIQUE,
    request_fingerprint   TEXT NOT NULL,
    provider              TEXT NOT NULL,
    provider_message_id   TEXT,
    recipient_hash        BLOB NOT NULL,
    recipient_sealed      BLOB NOT NULL,
    recipient_masked      TEXT NOT NULL,
    destination_country   TEXT,
    sender_identity       TEXT,
    sender_type           TEXT,
    template_key          TEXT,
    use_case              TEXT,
    user_ref              TEXT,
    product_action_kind   TEXT,
    product_action_ref    TEXT,
    product_action_url    TEXT,
    recipient_timezone    TEXT,
    sent_at_us            INTEGER,
    metadata_json         TEXT,
    created_at_us         INTEGER NOT NULL,
    current_status        TEXT NOT NULL,
    current_raw_status    TEXT,
    current_error_code    TEXT,
    status_at_us          INTEGER NOT NULL,
    is_final              BOOLEAN NOT NULL,
    updated_at_us         INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_provider_message ON messages (provider, provider_message_id);
CREATE INDEX messages_provider_message_id ON messages (provider_message_id);
CREATE INDEX messages_recipient_hash ON messages (recipient_hash);

-- Append-only: one row per distinct callback, never updated.
CREATE TABLE message_events (
    id                      INTEGER PRIMARY KEY,
    dedup_key               TEXT NOT NULL UNIQUE,
    provider                TEXT NOT NULL,
    provider_message_id     TEXT NOT NULL,
    provider_event_id       TEXT,
    raw_status              TEXT NOT NULL,
    status                  TEXT,
    error_code              TEXT,
    provider_occurred_at_us INTEGER,
    received_at_us          INTEGER NOT NULL,
    content_type            TEXT NOT NULL,
    raw_payload_sealed      BLOB NOT NULL
);
CREATE INDEX message_events_provider_message ON message_events (provider, provider_message_id);

-- Provider message ids with callbacks but no registered message yet.
CREATE TABLE unmatched_callbacks (
    provider              TEXT NOT NULL,
    provider_message_id   TEXT NOT NULL,
    first_received_at_us  INTEGER NOT NULL,
    PRIMARY KEY (provider, provider_message_id)
);

CREATE TABLE inbound_messages (
    id                      INTEGER PRIMARY KEY,
    dedup_key               TEXT NOT NULL UNIQUE,
    provider                TEXT NOT NULL,
    provider_message_id     TEXT NOT NULL,
    sender_hash             BLOB NOT NULL,
    sender_sealed           BLOB NOT NULL,
    sender_masked           TEXT NOT NULL,
    sender_country          TEXT,
    recipient_identity      TEXT NOT NULL,
    body_sealed             BLOB NOT NULL,
    keyword                 TEXT,
    provider_occurred_at_us INTEGER,
    received_at_us          INTEGER NOT NULL,
    content_type            TEXT NOT NULL,
    raw_payload_sealed      BLOB NOT NULL
);
CREATE INDEX inbound_messages_sender_hash ON inbound_messages (sender_hash);

CREATE TABLE review_items (
    id                 INTEGER PRIMARY KEY,
    provider           TEXT NOT NULL,
    route              TEXT NOT NULL,
    kind               TEXT NOT NULL,
    reason             TEXT NOT NULL,
    event_id           INTEGER REFERENCES message_events (id),
    content_type       TEXT NOT NULL,
    raw_payload_sealed BLOB NOT NULL,
    received_at_us     INTEGER NOT NULL,
    resolved_at_us     INTEGER
);
CREATE INDEX review_items_open ON review_items (resolved_at_us, id);

CREATE TABLE message_retries (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages (id),
    kind            TEXT NOT NULL,
    new_message_id  TEXT,
    reason          TEXT,
    created_at_us   INTEGER NOT NULL
);
CREATE INDEX message_retries_message ON message_retries (message_id);

-- Only the SHA-256 of each token is kept.
CREATE TABLE api_tokens (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    digest         TEXT NOT NULL UNIQUE,
    created_at_us  INTEGER NOT NULL,
    revoked_at_us  INTEGER
);
