-- Dashboards (issue 11): rollups kept exact by the writers in the same
-- transaction as the rows they count, so a 30-day dashboard reads a few
-- thousand rows instead of millions of messages and events.
--
-- Each message is counted in three buckets of its registration time: the
-- quarter hour, the hour and the UTC day (`span_us`, `start_us`); a reader
-- adds whole days, whole hours and the quarters left at the ends. Empty
-- dimension values are stored as '' (a key column cannot be NULL).

-- Messages by current status, and what happened to them: timeouts, stored
-- callbacks and their repeated copies, retries and fallbacks.
CREATE TABLE dash_counts (
    span_us        BIGINT NOT NULL,
    start_us       BIGINT NOT NULL,
    country        TEXT NOT NULL,
    provider       TEXT NOT NULL,
    use_case       TEXT NOT NULL,
    sender         TEXT NOT NULL,
    template       TEXT NOT NULL,
    accepted       BIGINT NOT NULL DEFAULT 0,
    sent           BIGINT NOT NULL DEFAULT 0,
    delivered      BIGINT NOT NULL DEFAULT 0,
    undelivered    BIGINT NOT NULL DEFAULT 0,
    failed         BIGINT NOT NULL DEFAULT 0,
    expired        BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    unknown        BIGINT NOT NULL DEFAULT 0,
    timed_out_now  BIGINT NOT NULL DEFAULT 0,
    timeouts       BIGINT NOT NULL DEFAULT 0,
    callbacks      BIGINT NOT NULL DEFAULT 0,
    duplicates     BIGINT NOT NULL DEFAULT 0,
    retries        BIGINT NOT NULL DEFAULT 0,
    resends        BIGINT NOT NULL DEFAULT 0,
    failovers      BIGINT NOT NULL DEFAULT 0,
    fallbacks      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span_us, start_us, country, provider, use_case, sender, template)
);

-- Durations in fixed buckets (src/domain/dashboard/buckets.rs): `kind`
-- 'callback' is each provider callback's latency (received minus provider
-- time), 'final' each final message's time from sent to its final status.
CREATE TABLE dash_latency (
    span_us   BIGINT NOT NULL,
    start_us  BIGINT NOT NULL,
    country   TEXT NOT NULL,
    provider  TEXT NOT NULL,
    use_case  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    b00 BIGINT NOT NULL DEFAULT 0,
    b01 BIGINT NOT NULL DEFAULT 0,
    b02 BIGINT NOT NULL DEFAULT 0,
    b03 BIGINT NOT NULL DEFAULT 0,
    b04 BIGINT NOT NULL DEFAULT 0,
    b05 BIGINT NOT NULL DEFAULT 0,
    b06 BIGINT NOT NULL DEFAULT 0,
    b07 BIGINT NOT NULL DEFAULT 0,
    b08 BIGINT NOT NULL DEFAULT 0,
    b09 BIGINT NOT NULL DEFAULT 0,
    b10 BIGINT NOT NULL DEFAULT 0,
    b11 BIGINT NOT NULL DEFAULT 0,
    b12 BIGINT NOT NULL DEFAULT 0,
    b13 BIGINT NOT NULL DEFAULT 0,
    b14 BIGINT NOT NULL DEFAULT 0,
    b15 BIGINT NOT NULL DEFAULT 0,
    b16 BIGINT NOT NULL DEFAULT 0,
    b17 BIGINT NOT NULL DEFAULT 0,
    b18 BIGINT NOT NULL DEFAULT 0,
    b19 BIGINT NOT NULL DEFAULT 0,
    b20 BIGINT NOT NULL DEFAULT 0,
    b21 BIGINT NOT NULL DEFAULT 0,
    b22 BIGINT NOT NULL DEFAULT 0,
    b23 BIGINT NOT NULL DEFAULT 0,
    b24 BIGINT NOT NULL DEFAULT 0,
    b25 BIGINT NOT NULL DEFAULT 0,
    b26 BIGINT NOT NULL DEFAULT 0,
    b27 BIGINT NOT NULL DEFAULT 0,
    b28 BIGINT NOT NULL DEFAULT 0,
    b29 BIGINT NOT NULL DEFAULT 0,
    b30 BIGINT NOT NULL DEFAULT 0,
    b31 BIGINT NOT NULL DEFAULT 0,
    b32 BIGINT NOT NULL DEFAULT 0,
    b33 BIGINT NOT NULL DEFAULT 0,
    b34 BIGINT NOT NULL DEFAULT 0,
    b35 BIGINT NOT NULL DEFAULT 0,
    b36 BIGINT NOT NULL DEFAULT 0,
    b37 BIGINT NOT NULL DEFAULT 0,
    b38 BIGINT NOT NULL DEFAULT 0,
    b39 BIGINT NOT NULL DEFAULT 0,
    b40 BIGINT NOT NULL DEFAULT 0,
    b41 BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span_us, start_us, country, provider, use_case, kind)
);

-- OTP verifications by where they stand, counted under the country,
-- provider and use case of their first message and their creation time.
CREATE TABLE dash_otp (
    span_us        BIGINT NOT NULL,
    start_us       BIGINT NOT NULL,
    country        TEXT NOT NULL,
    provider       TEXT NOT NULL,
    use_case       TEXT NOT NULL,
    completed      BIGINT NOT NULL DEFAULT 0,
    not_delivered  BIGINT NOT NULL DEFAULT 0,
    not_verified   BIGINT NOT NULL DEFAULT 0,
    expired        BIGINT NOT NULL DEFAULT 0,
    abandoned      BIGINT NOT NULL DEFAULT 0,
    open           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span_us, start_us, country, provider, use_case)
);

-- Where each verification is counted now, so a change moves it from
-- exactly the cell it was in (NULL: not counted yet).
ALTER TABLE verifications ADD COLUMN rollup_country TEXT;
ALTER TABLE verifications ADD COLUMN rollup_provider TEXT;
ALTER TABLE verifications ADD COLUMN rollup_use_case TEXT;
ALTER TABLE verifications ADD COLUMN rollup_category TEXT;

-- Whether an OTP verification names this message: only then can a change
-- of its delivery move a verification, and only then do the writers look.
ALTER TABLE messages ADD COLUMN verification_linked BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE messages SET verification_linked = TRUE
    WHERE id IN (SELECT message_id FROM verification_events WHERE message_id IS NOT NULL);

-- One row once the rollups were counted from the existing data (at the
-- first start after this migration; see Store::rebuild_rollups_if_needed).
CREATE TABLE dash_rollup_state (
    singleton      BIGINT PRIMARY KEY,
    rebuilt_at_us  BIGINT NOT NULL
);
