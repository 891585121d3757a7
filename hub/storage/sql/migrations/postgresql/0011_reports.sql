-- Residents' quick reports (lapor cepat) through the post's QR poster (hub/community). Each raises or
-- joins a low-severity `report` alert on its post; `outcome` follows that alert (escalated, false_report,
-- closed). Times are UTC ISO-8601 text of fixed width: text order is time order.
CREATE TABLE reports (
    id TEXT COLLATE "C" PRIMARY KEY,          -- a ULID
    post TEXT COLLATE "C" NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    category TEXT NOT NULL,
    text TEXT NOT NULL,           -- as typed, never rendered as HTML
    phone TEXT,                   -- for a call-back, when given
    lat DOUBLE PRECISION,                     -- only when the resident chose to share the location
    lon DOUBLE PRECISION,
    location_shared SMALLINT NOT NULL,
    photo TEXT,                   -- file name under <data_dir>/community/photos
    client TEXT NOT NULL,         -- the address limit's key (IPv4, IPv6 /64)
    alert_id TEXT COLLATE "C" NOT NULL,
    outcome TEXT,                 -- NULL while its alert is open
    closed_at TEXT,
    closed_by TEXT
);
CREATE INDEX reports_post_at ON reports (post, at);
CREATE INDEX reports_at ON reports (at);
CREATE INDEX reports_alert ON reports (alert_id);
