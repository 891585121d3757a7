"""End to end: PostgreSQL goes away mid-stream (issue 12) and comes back.

A private PostgreSQL (its own TempPostgres, since this test stops it), the real Mosquitto, the
real hub on `database_url`, and two edge agents on mock pins. While posts send events and guards
press panic, PostgreSQL is stopped like a crash (`pg_ctl stop -m immediate`):

- every panic is paged anyway (the alert path never waits on the database);
- the hub acks nothing it has not committed: the posts keep every event in their outboxes;
- /api/health says `degraded`, with the database `available: false` and why; the log says it once;
- /api/alerts keeps working from the alert service's memory; /api/events answers 503;

then PostgreSQL restarts and everything catches up: the outboxes empty, every event is stored
exactly once, the alerts raised during the outage reach the database, health is `ok` again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

import pytest

from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from kamling.protocol import EventKind
from poskamling.postgres import TempPostgres
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e

POSTS = ("pos-db01", "pos-db02")
BEFORE, DURING, AFTER = 5, 12, 4  # motion events per post before, during and after the outage


@pytest.fixture
def postgres() -> Iterator[TempPostgres]:
    """A server of this test's own: the session's shared one must not be stopped under other tests."""
    server = TempPostgres()
    server.start()
    yield server
    server.remove()


def database(api) -> dict:  # type: ignore[no-untyped-def]
    return api.get("/api/health").json()["database"]


def outage_lines(caplog: pytest.LogCaptureFixture) -> Counter[str]:
    """ERROR lines about the store failing, per logger."""
    return Counter(
        r.name
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name in ("hub.storage.eventlog", "hub.alerting.sql_store")
    )


def test_postgresql_away_mid_stream_panics_paged_nothing_acked_then_everything_catches_up(
    make_hub, make_post, sink, postgres: TempPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    hub = make_hub([post_entry(d, f"Pos {d}") for d in POSTS], database_url=postgres.url)
    posts = [make_post(d) for d in POSTS]
    api = hub.client("operator")
    wait_for(lambda: all(p["online"] for p in api.get("/api/posts").json()), timeout=15, what="posts online")

    for post in posts:
        for n in range(BEFORE):
            post.agent.raise_event(EventKind.MOTION, {"n": n})
    wait_for(
        lambda: all(p.agent.outbox.depth() == 0 and p.agent.outbox.last_seq() == BEFORE for p in posts),
        timeout=20,
        what="events before the outage acked",
    )
    health = api.get("/api/health").json()
    assert health["database"]["available"] is True and health["database"]["url"].startswith("postgresql://")
    assert "@" not in health["database"]["url"] or "password" not in health["database"]["url"]

    postgres.stop("immediate")  # like a crash of the database server

    for post in posts:
        for n in range(DURING):
            post.agent.raise_event(EventKind.MOTION, {"n": BEFORE + n})
            if n == DURING // 2:
                post.press()  # a guard presses panic while the database is away
    for post in posts:  # both panics are paged, though nothing can be stored
        page = sink.wait_for(
            lambda r, d=post.device_id: r.path == "/officer" and f"Pos {d}" in r.body["title"], timeout=20
        )
        assert page is not None and "PANIK" in page.body["title"], f"{post.device_id}: panic not paged"

    during = DURING + 1  # the motions and the panic
    wait_for(lambda: database(api)["available"] is False, timeout=20, what="health: database unavailable")
    health = api.get("/api/health").json()
    assert health["status"] == "degraded" and health["database"]["error"]
    # nothing was acked: every event raised during the outage is still in its post's outbox
    for post in posts:  # the agent stores what it was given after the press on its own thread: wait for it
        wait_for(lambda p=post: p.agent.outbox.last_seq() == BEFORE + during, what=f"{post.device_id} stored all")
        assert post.agent.outbox.depth() == during, f"{post.device_id}: an event was acked before its commit"

    alerts = api.get("/api/alerts", params={"kind": "panic"})
    assert alerts.status_code == 200 and alerts.headers.get("X-Alerts-Source") == "memory"
    assert sorted(a["device"] for a in alerts.json()) == sorted(POSTS)
    assert api.get("/api/events").status_code == 503
    panic_ids = [a["id"] for a in alerts.json()]
    assert all(api.get(f"/api/alerts/{i}").status_code == 200 for i in panic_ids)  # memory's copy

    # the log said so, once per writer (not at every retry)
    lines = outage_lines(caplog)
    assert lines["hub.storage.eventlog"] == 1, lines
    assert lines["hub.alerting.sql_store"] <= 1, lines

    postgres.start()

    for post in posts:
        for n in range(AFTER):
            post.agent.raise_event(EventKind.MOTION, {"n": BEFORE + DURING + n})
    total = BEFORE + during + AFTER
    wait_for(
        lambda: all(p.agent.outbox.depth() == 0 and p.agent.outbox.last_seq() == total for p in posts),
        timeout=90,
        interval=0.2,
        what="every event acked after the database returned",
    )
    wait_for(lambda: api.get("/api/health").json()["status"] == "ok", timeout=30, what="health ok again")
    assert database(api) | {"error": None} == database(api) and database(api)["available"] is True

    store = SqlEventStore(Database(postgres.url))
    store.open()
    try:
        records = list(store.scan())
    finally:
        store.close()
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "an event stored twice"
    for device in POSTS:
        seqs = sorted(int(r["seq"]) for r in records if r["device"] == device)
        assert seqs == list(range(1, total + 1)), f"{device}: lost or doubled events"
        assert sum(1 for r in records if r["device"] == device and r["kind"] == "panic") == 1

    # the alerts raised during the outage reach the database when it is back (the writer retries)
    repository = hub.service.alerts.repository
    wait_for(
        lambda: all(repository.get(i) is not None for i in panic_ids),
        timeout=60,
        interval=0.5,
        what="panic alerts written to PostgreSQL",
    )
    listed = api.get("/api/alerts", params={"kind": "panic"})
    assert "X-Alerts-Source" not in listed.headers and sorted(a["id"] for a in listed.json()) == sorted(panic_ids)
    assert api.get("/api/events", params={"kind": "panic"}).json()["total"] == 2

    lines = outage_lines(caplog)
    assert lines["hub.storage.eventlog"] == 1 and lines["hub.alerting.sql_store"] <= 1, lines
    assert any("commits succeed again" in r.getMessage() for r in caplog.records)
