-- Long inbound messages that a provider delivers part by part (Vonage's SMS
-- API: one webhook per part, `concat-ref`, `concat-part`, `concat-total`).
-- Each part is stored as its own row, deduplicated on its own provider
-- message id; these say where it belongs, and readers put the parts back
-- together (src/domain/inbound_parts.rs). NULL on every whole message.
ALTER TABLE inbound_messages ADD COLUMN part_group TEXT;
ALTER TABLE inbound_messages ADD COLUMN part_number BIGINT;
ALTER TABLE inbound_messages ADD COLUMN part_total BIGINT;
