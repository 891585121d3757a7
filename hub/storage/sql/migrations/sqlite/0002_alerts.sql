-- Alerts, open and closed, kept for years: one row per alert holding its newest state (the alert
-- writer replaces it on every save), its timeline and its events in tables of their own (both only
-- ever grow, so a save appends the new entries instead of rewriting the alert's history).
-- Times are UTC ISO-8601 text of fixed width (hub.storage.sql.events.sortable_time): text order is time order.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,          -- a ULID
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    is_open INTEGER NOT NULL,     -- 1 while new, notified, acknowledged or en route
    test INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at TEXT,
    outcome TEXT,
    record TEXT NOT NULL          -- the rest of the alert as JSON (Alert.to_record() without timeline and event_ids)
);
-- newest first (keyset on opened_at, id), of one post, of one kind in a time range, of one state
CREATE INDEX alerts_opened ON alerts (opened_at, id);
CREATE INDEX alerts_device_opened ON alerts (device, opened_at, id);
CREATE INDEX alerts_kind_opened ON alerts (kind, opened_at, id);
CREATE INDEX alerts_state_opened ON alerts (state, opened_at, id);
-- the open alerts: a few rows however long the history (the hub's start, the dashboard)
CREATE INDEX alerts_open ON alerts (opened_at, id) WHERE is_open = 1;
-- the recently closed alerts the hub keeps in memory after a start
CREATE INDEX alerts_updated ON alerts (updated_at, id);
CREATE TABLE alert_timeline (
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    position INTEGER NOT NULL,    -- 0, 1, 2, ... in the order the entries were made
    ts TEXT NOT NULL,
    action TEXT NOT NULL,         -- opened, repeat, notified, acknowledged, en_route, resolved, ...
    actor TEXT,
    detail TEXT,
    PRIMARY KEY (alert_id, position)
);
-- who acknowledged/resolved what, when (reports over the whole history)
CREATE INDEX alert_timeline_action_ts ON alert_timeline (action, ts);
CREATE TABLE alert_events (
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    position INTEGER NOT NULL,    -- the order of Alert.event_ids
    event_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, position)
);
-- which alerts reference this event (evidence, missed-alert check after a crash)
CREATE INDEX alert_events_event ON alert_events (event_id, alert_id);
