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
    span_us        INTEGER NOT NULL,
    start_us       INTEGER NOT NULL,
    country        TEXT NOT NULL,
    provider       TEXT NOT NULL,
    use_case       TEXT NOT NULL,
    sender         TEXT NOT NULL,
    template       TEXT NOT NULL,
    accepted       INTEGER NOT NULL DEFAULT 0,
    sent           INTEGER NOT NULL DEFAULT 0,
    delivered      INTEGER NOT NULL DEFAULT 0,
    undelivered    INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    expired        INTEGER NOT NULL DEFAULT 0,
    rejected       INTEGER NOT NULL DEFAULT 0,
    unknown        INTEGER NOT NULL DEFAULT 0,
    timed_out_now  INTEGER NOT NULL DEFAULT 0,
    timeouts       INTEGER NOT NULL DEFAULT 0,
    callbacks      INTEGER NOT NULL DEFAULT 0,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    retries        INTEGER NOT NULL DEFAULT 0,
    resends        INTEGER NOT NULL DEFAULT 0,
    failovers      INTEGER NOT NULL DEFAULT 0,
    fallbacks      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (span_us, start_us, country, provider, use_case, sender, template)
);

-- Durations in fixed buckets (src/domain/dashboard/buckets.rs): `kind`
-- 'callback' is each provider callback's latency (received minus provider
-- time), 'final' each final message's time from sent to its final status.
CREATE TABLE dash_latency (
    span_us   INTEGER NOT NULL,
    start_us  INTEGER NOT NULL,
    country   TEXT NOT NULL,
    provider  TEXT NOT NULL,
    use_case  TEXT NOT NULL,
    kind      TEXT NOT NULL,
    b00 INTEGER NOT NULL DEFAULT 0,
    b01 INTEGER NOT NULL DEFAULT 0,
    b02 INTEGER NOT NULL DEFAULT 0,
    b03 INTEGER NOT NULL DEFAULT 0,
    b04 INTEGER NOT NULL DEFAULT 0,
    b05 INTEGER NOT NULL DEFAULT 0,
    b06 INTEGER NOT NULL DEFAULT 0,
    b07 INTEGER NOT NULL DEFAULT 0,
    b08 INTEGER NOT NULL DEFAULT 0,
    b09 INTEGER NOT NULL DEFAULT 0,
    b10 INTEGER NOT NULL DEFAULT 0,
    b11 INTEGER NOT NULL DEFAULT 0,
    b12 INTEGER NOT NULL DEFAULT 0,
    b13 INTEGER NOT NULL DEFAULT 0,
    b14 INTEGER NOT NULL DEFAULT 0,
    b15 INTEGER NOT NULL DEFAULT 0,
    b16 INTEGER NOT NULL DEFAULT 0,
    b17 INTEGER NOT NULL DEFAULT 0,
    b18 INTEGER NOT NULL DEFAULT 0,
    b19 INTEGER NOT NULL DEFAULT 0,
    b20 INTEGER NOT NULL DEFAULT 0,
    b21 INTEGER NOT NULL DEFAULT 0,
    b22 INTEGER NOT NULL DEFAULT 0,
    b23 INTEGER NOT NULL DEFAULT 0,
    b24 INTEGER NOT NULL DEFAULT 0,
    b25 INTEGER NOT NULL DEFAULT 0,
    b26 INTEGER NOT NULL DEFAULT 0,
    b27 INTEGER NOT NULL DEFAULT 0,
    b28 INTEGER NOT NULL DEFAULT 0,
    b29 INTEGER NOT NULL DEFAULT 0,
    b30 INTEGER NOT NULL DEFAULT 0,
    b31 INTEGER NOT NULL DEFAULT 0,
    b32 INTEGER NOT NULL DEFAULT 0,
    b33 INTEGER NOT NULL DEFAULT 0,
    b34 INTEGER NOT NULL DEFAULT 0,
    b35 INTEGER NOT NULL DEFAULT 0,
    b36 INTEGER NOT NULL DEFAULT 0,
    b37 INTEGER NOT NULL DEFAULT 0,
    b38 INTEGER NOT NULL DEFAULT 0,
    b39 INTEGER NOT NULL DEFAULT 0,
    b40 INTEGER NOT NULL DEFAULT 0,
    b41 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (span_us, start_us, country, provider, use_case, kind)
);

-- OTP verifications by where they stand, counted under the country,
-- provider and use case of their first message and their creation time.
CREATE TABLE dash_otp (
    span_us        INTEGER NOT NULL,
    start_us       INTEGER NOT NULL,
    country        TEXT NOT NULL,
    provider       TEXT NOT NULL,
    use_case       TEXT NOT NULL,
    completed      INTEGER NOT NULL DEFAULT 0,
    not_delivered  INTEGER NOT NULL DEFAULT 0,
    not_verified   INTEGER NOT NULL DEFAULT 0,
    expired        INTEGER NOT NULL DEFAULT 0,
    abandoned      INTEGER NOT NULL DEFAULT 0,
    open           INTEGER NOT NULL DEFAULT 0,
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
    singleton      INTEGER PRIMARY KEY,
    rebuilt_at_us  INTEGER NOT NULL
);
