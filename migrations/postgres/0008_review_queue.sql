-- The review queue groups items by provider and raw status and records how
-- each was settled. `raw_status` is NULL for unreadable payloads (there is
-- none to read); unmatched callbacks get the dedup key
-- `unmatched:{provider}:{provider message id}`, so that the periodic pass on
-- several instances opens at most one item per id.
ALTER TABLE review_items ADD COLUMN raw_status TEXT;
ALTER TABLE review_items ADD COLUMN provider_message_id TEXT;
ALTER TABLE review_items ADD COLUMN resolution TEXT;
ALTER TABLE review_items ADD COLUMN resolved_by TEXT;
UPDATE review_items SET raw_status = (
    SELECT e.raw_status FROM message_events e WHERE e.id = review_items.event_id
) WHERE event_id IS NOT NULL;

-- Mappings from a provider's raw status to a normalized status, added by an
-- admin from the review queue; consulted before the built-in vocabulary.
CREATE TABLE status_mappings (
    provider       TEXT NOT NULL,
    raw_status     TEXT NOT NULL,
    status         TEXT NOT NULL,
    created_at_us  BIGINT NOT NULL,
    created_by     TEXT,
    PRIMARY KEY (provider, raw_status)
);

-- Re-normalizing after a mapping walks the events with one raw status in id
-- order, a chunk at a time.
CREATE INDEX message_events_raw_status ON message_events (provider, raw_status, id);
