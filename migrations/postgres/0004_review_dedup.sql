-- Unreadable callbacks carry a keyed digest of their raw body, so that a
-- replayed copy is answered as a duplicate instead of adding a review item.
-- Other review items (unknown statuses) leave it NULL: they are deduplicated
-- as events, and NULLs never conflict in a unique index.
ALTER TABLE review_items ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX review_items_dedup_key ON review_items (dedup_key);
