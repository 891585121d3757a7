-- The snapshot index (hub/storage/snapshots.py): one row per stored JPEG, so the hub never scans
-- the snapshot folder at start. Arrival order is the hub's own counter per post (`arrival`), not
-- the ULID in the name nor the file's mtime.
CREATE TABLE snapshots (
    device TEXT NOT NULL,
    event_id TEXT NOT NULL,
    file TEXT NOT NULL,          -- <device>/<event_id>.jpg under the snapshot folder
    bytes INTEGER NOT NULL,
    stored_at TEXT NOT NULL,     -- the hub's clock, UTC ISO-8601
    arrival INTEGER NOT NULL,     -- per post, increasing: oldest first is ORDER BY arrival
    PRIMARY KEY (device, event_id)
);
-- a post's oldest first (per-post quota, and the global backstop once it has picked a post)
CREATE INDEX snapshots_device_arrival ON snapshots (device, arrival);
-- find(event_id) without a device (old callers: exactly one holder)
CREATE INDEX snapshots_event ON snapshots (event_id);
-- per-post totals, kept in the same transaction as the rows: start reads ~one row per post, no scan;
-- the global backstop ranks posts by these
CREATE TABLE snapshot_posts (
    device TEXT PRIMARY KEY,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    last_arrival INTEGER NOT NULL
);
-- file operations of the last save or eviction, committed with the rows before the files are
-- touched: at start only these are checked ('write': drop the row if the file never landed;
-- 'delete': unlink the file again), never the whole folder
CREATE TABLE snapshot_pending (
    device TEXT NOT NULL,
    event_id TEXT NOT NULL,
    action TEXT NOT NULL,
    PRIMARY KEY (device, event_id)
);
-- 'indexed': the folder written by a release before the SQL index has been indexed once
CREATE TABLE snapshot_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
