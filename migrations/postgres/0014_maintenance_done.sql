-- One-off data upgrades that run at start-up record here that they are
-- done, so a start does not scan a large table to find nothing left to do.
CREATE TABLE maintenance_done (
    name        TEXT NOT NULL PRIMARY KEY,
    done_at_us  BIGINT NOT NULL
);
