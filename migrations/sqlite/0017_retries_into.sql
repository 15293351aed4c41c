-- The retries that produced a message (it is their new_message_id), read by
-- every message page: without an index that was a scan of every retry
-- (150,000 rows in a 3-million-message database, ~15 ms a page).
CREATE INDEX message_retries_new_message ON message_retries (new_message_id);
