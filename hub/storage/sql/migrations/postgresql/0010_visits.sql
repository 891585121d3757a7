-- Police visits to posts (sambang), recorded from the officer's phone through the post's QR poster
-- (hub/community). Rows are only ever added. Times are UTC ISO-8601 text of fixed width
-- (hub.storage.sql.events.sortable_time): text order is time order.
CREATE TABLE visits (
    id TEXT COLLATE "C" PRIMARY KEY,          -- a ULID
    post TEXT COLLATE "C" NOT NULL,           -- the post's device id (from the signed poster link)
    officer TEXT COLLATE "C" NOT NULL,        -- the officer's roster id, or "user:<name>" for a dashboard login
    officer_name TEXT NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    lat DOUBLE PRECISION,                     -- what the phone reported; NULL when it gave none
    lon DOUBLE PRECISION,
    accuracy_m DOUBLE PRECISION,
    distance_m DOUBLE PRECISION,              -- from the post; NULL when either side has no location
    flag TEXT,                    -- NULL (near the post), far, no_location, post_unplaced
    note TEXT NOT NULL,
    photo TEXT,                   -- file name under <data_dir>/community/photos
    via TEXT NOT NULL,            -- session or link
    client TEXT NOT NULL
);
-- "at most once per officer per post per hour", and each post's last visits
CREATE INDEX visits_officer_post_at ON visits (officer, post, at);
CREATE INDEX visits_post_at ON visits (post, at);
CREATE INDEX visits_at ON visits (at);
