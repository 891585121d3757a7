-- The event log: one row per event, the event id (a ULID) as primary key (de-duplication).
-- Times are UTC ISO-8601 text of fixed width, so text order is time order.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts TEXT NOT NULL,            -- the post's clock (normalised to UTC; clamped when out of range)
    received_at TEXT NOT NULL,   -- the hub's clock: the log's order
    test INTEGER NOT NULL,
    record TEXT NOT NULL         -- the whole stored record as JSON
);
-- newest first, and newest first of one post or one kind (keyset pagination on received_at, id)
CREATE INDEX events_received ON events (received_at, id);
CREATE INDEX events_device_received ON events (device, received_at, id);
CREATE INDEX events_kind_received ON events (kind, received_at, id);
-- a kind in a time range of the post's clock (e.g. the panics of one day)
CREATE INDEX events_kind_ts ON events (kind, ts);
-- the highest seq per post, kept in the same transaction as the insert (no scan at start)
CREATE TABLE post_seqs (
    device TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
