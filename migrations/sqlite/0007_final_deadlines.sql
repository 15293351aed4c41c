-- When a message without a final status gets smstrail's own timeout event.
-- NULL: nothing to wait for (its timeout was written; final messages are
-- skipped by is_final whatever their deadline).
-- Existing messages still waiting get the default window (72h) from when
-- they were sent, else registered; the reconcile job times them out from there.
ALTER TABLE messages ADD COLUMN final_deadline_us INTEGER;
UPDATE messages SET final_deadline_us = COALESCE(sent_at_us, created_at_us) + 259200000000
    WHERE NOT is_final;
-- The job walks due messages in deadline order, a chunk at a time: the
-- index makes a pass cost the same at 10 M messages as at 10.
CREATE INDEX messages_final_deadline ON messages (is_final, final_deadline_us);
