-- The audit records about one message, for its evidence export.
CREATE INDEX audit_log_message ON audit_log (message_id, id);
