"""The SQL audit log: AuditLog's interface and behaviour, durable across reopen, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.storage.audit import AuditLog
from hub.storage.sql.audit import SqlAuditLog, migrate_audit_file
from hub.storage.sql.database import Database, StoreUnavailable


@pytest.fixture
def audit(database_url: str) -> Iterator[SqlAuditLog]:
    log = SqlAuditLog(Database(database_url))
    log.open()
    yield log
    log.close()


def test_record_returns_the_entry_and_read_filters_as_the_file_log_does(audit: SqlAuditLog) -> None:
    first = audit.record("budi", "login.ok", client="10.0.0.5")
    assert set(first) == {"ts", "actor", "action", "target", "ok", "client", "detail"}
    audit.record("sari", "alert.ack", "A1", device="pos-rw01")
    audit.record("sari", "alert.resolve", "A1", outcome="real")
    audit.record("x" * 5000, "login.failed", ok=False)
    entries = audit.read()
    assert [e["action"] for e in entries] == ["login.failed", "alert.resolve", "alert.ack", "login.ok"]
    assert entries[-1] == first
    assert len(entries[0]["actor"]) == 500 and entries[0]["ok"] is False
    assert entries[2]["detail"] == {"device": "pos-rw01"}
    assert [e["action"] for e in audit.read(action="alert.")] == ["alert.resolve", "alert.ack"]  # a prefix
    assert [e["action"] for e in audit.read(action="login.ok")] == ["login.ok"]
    assert [e["actor"] for e in audit.read(actor="budi")] == ["budi"]
    assert [e["action"] for e in audit.read(action="alert.", actor="sari", limit=1)] == ["alert.resolve"]
    assert audit.read(action="nothing.") == [] and audit.read(actor="nobody") == []
    assert len(audit.read(limit=1)) == 1 and audit.read(limit=0) == []


def test_what_the_file_log_reads_the_sql_log_reads_the_same(audit: SqlAuditLog, tmp_path: Path) -> None:
    old = AuditLog(tmp_path / "audit.jsonl")
    for log in (old, audit):
        for n in range(12):
            log.record(
                f"user{n % 3}",
                ["login.ok", "alert.ack", "device.add", "login.failed"][n % 4],
                f"t{n}",
                ok=n % 5 != 0,
                client=f"10.0.0.{n}",
                n=n,
            )

    def strip(entries: list[dict]) -> list[dict]:
        return [{k: v for k, v in e.items() if k != "ts"} for e in entries]

    for filters in (
        {},
        {"action": "login."},
        {"actor": "user1"},
        {"action": "alert.ack", "actor": "user1"},
        {"limit": 5},
        {"action": "login", "limit": 3},
    ):
        assert strip(audit.read(**filters)) == strip(old.read(**filters)), filters


def test_records_are_durable_across_a_reopen(database_url: str) -> None:
    first = SqlAuditLog(Database(database_url))
    first.open()
    written = [
        first.record("budi", "user.create", "sari", role="operator"),
        first.record("hub", "storage.damaged", ok=False),
    ]
    first.close()
    second = SqlAuditLog(Database(database_url))
    second.open()
    try:
        assert second.read() == list(reversed(written))
        assert second.read(action="user.") == [written[0]]  # the actions known survive too
        second.record("budi", "user.disable", "sari")
        assert [e["action"] for e in second.read(action="user.")] == ["user.disable", "user.create"]
    finally:
        second.close()


def test_a_database_that_is_away_spills_to_a_file_and_catches_up(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = tmp_path / "audit-spill.jsonl"
    audit = SqlAuditLog(Database(database_url), spill=spill, retry_after=3600)
    audit.open()
    audit.record("budi", "login.ok")
    real = audit.database.transaction
    calls: list[int] = []

    def away():  # type: ignore[no-untyped-def]
        calls.append(1)
        raise StoreUnavailable("database away")

    monkeypatch.setattr(audit.database, "transaction", away)
    during = [audit.record("sari", "alert.ack", "A1"), audit.record("sari", "alert.resolve", "A1")]
    assert len(calls) == 1  # after one refusal the database is not tried (and waited for) again for a while
    assert len(spill.read_text().splitlines()) == 2  # durable before record() returned
    monkeypatch.setattr(audit.database, "transaction", real)
    audit.close()

    again = SqlAuditLog(Database(database_url), spill=spill)
    again.open()  # the spill is written to the database at open
    try:
        assert [e["action"] for e in again.read()] == ["alert.resolve", "alert.ack", "login.ok"]
        assert again.read(limit=2) == list(reversed(during))
        assert spill.read_text() == ""
        again.open()  # replaying nothing twice adds nothing
        assert again.count() == 3
    finally:
        again.close()


def test_without_a_spill_file_an_unavailable_database_is_an_error(
    audit: SqlAuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def away():  # type: ignore[no-untyped-def]
        raise StoreUnavailable("database away")

    monkeypatch.setattr(audit.database, "transaction", away)
    with pytest.raises(StoreUnavailable):
        audit.record("budi", "login.ok")


def test_migrating_the_jsonl_file_keeps_every_readable_line_once(audit: SqlAuditLog, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    old = AuditLog(path)
    old.record("budi", "login.ok", client="10.0.0.5")
    old.record("sari", "alert.ack", "A1", device="pos-rw01")
    with path.open("a") as handle:
        handle.write("{not json\n")
        handle.write(json.dumps(json.loads(path.read_text().splitlines()[0])) + "\n")  # an identical line: kept twice
    old.record("x" * 5000, "login.failed", ok=False)
    before = path.read_bytes()

    report = migrate_audit_file(path, audit)
    assert (report.read, report.added, report.already, report.unreadable, report.missing_after) == (4, 4, 0, 1, 0)
    # the same entries; newest first by their time (the file log's order is the lines' order, which is
    # the same except for the copied line, whose time is the first line's)
    assert audit.read() == sorted(old.read(), key=lambda e: e["ts"], reverse=True)
    again = migrate_audit_file(path, audit)
    assert (again.added, again.already, again.missing_after) == (0, 4, 0)
    old.record("budi", "logout")  # lines appended since: only they are new
    assert migrate_audit_file(path, audit).added == 1
    assert audit.count() == 5
    assert path.read_bytes().startswith(before)  # only read
