-- A lookup by provider message id returns the oldest message first. With an
-- index on the id alone, a planner with stale statistics was seen walking
-- the whole created_at index instead; this one serves the filter and the
-- order together, so no plan has a reason to scan.
DROP INDEX messages_provider_message_id;
CREATE INDEX messages_provider_message_created ON messages (provider_message_id, created_at_us);
