-- Retention (SMSTRAIL_RETAIN_RAW_PAYLOADS, SMSTRAIL_RETAIN_NUMBERS): a removed
-- ciphertext is stored as an empty blob (the columns stay NOT NULL, which
-- SQLite could not change without rebuilding the tables) and the time of its
-- removal is kept beside it. Hashes, masked forms, summaries and the events
-- themselves stay.
ALTER TABLE message_events ADD COLUMN raw_payload_removed_at_us INTEGER;
ALTER TABLE review_items ADD COLUMN raw_payload_removed_at_us INTEGER;
-- An inbound message's body goes with its raw payload (it carries the
-- sender's own words); its keyword (STOP, START, HELP) stays.
ALTER TABLE inbound_messages ADD COLUMN raw_payload_removed_at_us INTEGER;
ALTER TABLE inbound_messages ADD COLUMN sender_removed_at_us INTEGER;
ALTER TABLE messages ADD COLUMN recipient_removed_at_us INTEGER;

-- The daily pass walks what is still kept, oldest first, a chunk at a time;
-- partial indexes shrink as rows are removed.
CREATE INDEX message_events_payload_kept ON message_events (received_at_us)
    WHERE raw_payload_removed_at_us IS NULL;
CREATE INDEX review_items_payload_kept ON review_items (received_at_us)
    WHERE raw_payload_removed_at_us IS NULL;
CREATE INDEX inbound_messages_payload_kept ON inbound_messages (received_at_us)
    WHERE raw_payload_removed_at_us IS NULL;
CREATE INDEX inbound_messages_sender_kept ON inbound_messages (received_at_us)
    WHERE sender_removed_at_us IS NULL;
CREATE INDEX messages_recipient_kept ON messages (created_at_us)
    WHERE recipient_removed_at_us IS NULL;
