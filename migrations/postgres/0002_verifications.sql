-- The OTP verification timeline (CONTRACT §4).
CREATE TABLE verifications (
    id             TEXT PRIMARY KEY,
    user_ref       TEXT,
    created_at_us  BIGINT NOT NULL
);

-- Append-only, like message_events.
CREATE TABLE verification_events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    verification_id  TEXT NOT NULL REFERENCES verifications (id),
    kind             TEXT NOT NULL,
    message_id       TEXT REFERENCES messages (id),
    occurred_at_us   BIGINT NOT NULL,
    recorded_at_us   BIGINT NOT NULL
);
CREATE INDEX verification_events_verification ON verification_events (verification_id, occurred_at_us);
CREATE INDEX verification_events_message ON verification_events (message_id);
