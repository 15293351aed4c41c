-- The per-user page (/users/{user_ref}) reads each stream newest first after
-- a keyset cursor. Messages by (user_ref, created_at_us, id) walk this index
-- a page at a time instead of sorting all of a user's messages per page; a
-- user's verifications, retries and the numbers their replies come from are
-- found through it and through verifications_user_ref. It replaces the
-- user_ref-only index of 0003, which is its prefix.
DROP INDEX messages_user_ref;
CREATE INDEX messages_user_ref ON messages (user_ref, created_at_us, id);
CREATE INDEX verifications_user_ref ON verifications (user_ref, created_at_us);
