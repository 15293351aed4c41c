-- A version per rollup bucket (bucket size, bucket start), raised in the
-- same transaction as every change to that bucket's rows. The dashboards
-- keep a bucket's rows in memory until its version moves, so a month-long
-- dashboard sums cached buckets instead of re-reading a month of rows.
-- Each writer connection raises a slot of its own (`slot`: 0 on SQLite's
-- one writer, the backend pid on PostgreSQL), so concurrent writers never
-- wait for each other on a bucket's version; a bucket's version is the sum
-- of its slots, which grows whenever any of them does.
CREATE TABLE dash_versions (
    span_us   INTEGER NOT NULL,
    start_us  INTEGER NOT NULL,
    slot      INTEGER NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (span_us, start_us, slot)
);
