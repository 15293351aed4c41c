-- Telling the product: the transactional outbox. A row is written in the
-- same transaction as the summary change it announces (a summary that became
-- final, or `unknown` by smstrail's timeout) and sent by a background task.
-- Per message only the oldest unsent row is eligible (ordering); a claim
-- lease (`claimed_until_us`) keeps several instances from sending one row at
-- the same time, and lets another take over after a crash.
CREATE TABLE notify_outbox (
    id                  INTEGER PRIMARY KEY,
    message_id          TEXT NOT NULL REFERENCES messages (id),
    event_type          TEXT NOT NULL,
    status              TEXT NOT NULL,
    error_code          TEXT,
    occurred_at_us      INTEGER NOT NULL,
    created_at_us       INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_us  INTEGER NOT NULL,
    claimed_until_us    INTEGER,
    sent_at_us          INTEGER,
    last_attempt_at_us  INTEGER,
    last_error          TEXT
);
CREATE INDEX notify_outbox_message ON notify_outbox (message_id, id);
CREATE INDEX notify_outbox_pending ON notify_outbox (sent_at_us, next_attempt_at_us);
