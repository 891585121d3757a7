-- The audit log: who did what, when, from where. Rows are only ever added (evidence), never changed.
-- `uid` makes every write idempotent: a line replayed from the spill file or migrated from the old
-- audit.jsonl twice is stored once.
CREATE TABLE audit_log (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid TEXT COLLATE "C" NOT NULL UNIQUE,
    at TEXT COLLATE "C" NOT NULL,             -- UTC ISO-8601 of fixed width: the log's order (newest first), with seq
    ts TEXT NOT NULL,             -- the entry's time exactly as recorded (what read() returns)
    actor TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,         -- dotted: login.ok, alert.ack, device.add, ...
    target TEXT NOT NULL,
    ok SMALLINT NOT NULL,
    client TEXT NOT NULL,
    detail TEXT NOT NULL          -- JSON object
);
-- the admin API's reads: newest first, of one action, of one actor
CREATE INDEX audit_log_at ON audit_log (at, seq);
CREATE INDEX audit_log_action_at ON audit_log (action, at, seq);
CREATE INDEX audit_log_actor_at ON audit_log (actor, at, seq);
-- every action ever recorded (a few dozen rows): a prefix filter (action="alert.") becomes one
-- indexed top-N read per matching action instead of a scan of the whole history
CREATE TABLE audit_actions (
    action TEXT COLLATE "C" PRIMARY KEY
);
