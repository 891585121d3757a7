"""`poskamling hub migrate` moves the alert files and the audit log of the current release into SQL too.

The files are written by the current release's own code (AlertRepository, AuditLog, TinyEventStore),
migrated on SQLite and on a real PostgreSQL, compared, migrated again (nothing added) and left as they were.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result
from ulid import ULID

from hub.alerting.rules import Alert, AlertKind, Outcome, acknowledge, open_alert, record_note, resolve
from hub.alerting.sql_store import SqlAlertRepository, migrate_alert_files
from hub.alerting.store import AlertRepository
from hub.storage.audit import AuditLog
from hub.storage.events import TinyEventStore
from hub.storage.sql.audit import SqlAuditLog
from hub.storage.sql.database import Database
from poskamling.cli import app

JAN = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 3, 0, tzinfo=UTC)


def closed(at: datetime, device: str = "pos-rw01") -> Alert:
    alert = open_alert(device, AlertKind.MOTION, at)
    return resolve(alert, "bhabin", Outcome.FALSE_ALARM, None, at + timedelta(minutes=5))


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["hub", *args])


def snapshot(folder: Path) -> dict[str, bytes]:
    """The release's files (not the SQL store, which is in data_dir by default)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith("hub.db")
    }


def write_release_files(data_dir: Path) -> tuple[list[Alert], list[dict]]:
    """Alerts (hot file and two monthly archives), audit lines and a few events, by the current code."""
    alerts = [closed(JAN + timedelta(minutes=n), device=f"pos-rw0{n % 3 + 1}") for n in range(40)]
    alerts += [closed(FEB + timedelta(hours=n)) for n in range(10)]
    waiting = acknowledge(open_alert("pos-rw02", AlertKind.PANIC, FEB), "bhabin", "link", FEB + timedelta(minutes=2))
    alerts += [waiting, open_alert("pos-rw03", AlertKind.TAMPER, FEB + timedelta(days=1))]
    repository = AlertRepository(data_dir / "alerts.json")
    repository.load()
    repository.start()
    for alert in alerts:
        repository.save(alert)
    repository.stop()
    audit = AuditLog(data_dir / "audit.jsonl")
    for n in range(25):
        audit.record(f"user{n % 4}", ("login.ok", "alert.ack", "device.add")[n % 3], f"t{n}", client="10.0.0.9", n=n)
    events = TinyEventStore(data_dir / "events")
    events.open()
    events.append(
        [
            {
                "id": str(ULID()),
                "device": "pos-rw01",
                "seq": n,
                "kind": "panic",
                "ts": JAN.isoformat(),
                "received_at": JAN.isoformat(),
                "test": False,
                "data": {},
            }
            for n in range(1, 6)
        ]
    )
    events.close()
    return alerts, audit.read(limit=1000)


def test_migrate_moves_alerts_and_audit_lines_counts_them_and_keeps_the_files(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    alerts, audit_entries = write_release_files(data_dir)
    names = {p.name for p in data_dir.glob("alerts*.json")}
    assert names == {"alerts.json", "alerts-2026-01.json", "alerts-2026-02.json"}
    before = snapshot(data_dir)
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump({"mqtt_password": "hub-password-1", "data_dir": str(data_dir), "database_url": database_url})
    )

    first = run("migrate", "--config", str(config))
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["alerts"] | {"files": None, "damaged": None} == {
        "files": None,
        "read": 52,
        "added": 52,
        "replaced": 0,
        "already_stored": 0,
        "damaged": None,
        "missing_after": 0,
    }
    assert summary["audit"]["read"] == summary["audit"]["added"] == 25 and summary["audit"]["missing_after"] == 0
    assert summary["added"] == 5 and summary["missing_after"] == 0  # the events, as before

    repo = SqlAlertRepository(Database(database_url))
    audit = SqlAuditLog(Database(database_url))
    try:
        assert {a.id: a for a in repo.scan()} == {a.id: a for a in alerts}  # every field, timeline and event ids
        assert repo.count("open") == 2
        assert audit.read(limit=1000) == audit_entries
        assert audit.read(action="alert.", actor="user1") == [
            e for e in audit_entries if e["action"].startswith("alert.") and e["actor"] == "user1"
        ]
    finally:
        repo.close()
        audit.close()

    again = run("migrate", "--config", str(config))  # re-running adds nothing, and checks again
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    alerts_again = second["alerts"]
    assert (alerts_again["added"], alerts_again["already_stored"], alerts_again["missing_after"]) == (0, 52, 0)
    assert (second["audit"]["added"], second["audit"]["already_stored"]) == (0, 25)
    assert snapshot(data_dir) == before  # the old files are only read: not repaired, moved or removed


def test_a_newer_copy_in_sql_is_kept_and_an_older_one_is_replaced(database_url: str, tmp_path: Path) -> None:
    hot = tmp_path / "alerts.json"
    alert = open_alert("pos-rw01", AlertKind.PANIC, JAN)
    acked = acknowledge(alert, "bhabin", "api", JAN + timedelta(minutes=1))
    stale = open_alert("pos-rw02", AlertKind.PANIC, JAN)
    repository = AlertRepository(hot)
    repository.load()
    repository.start()
    repository.save(acked)
    repository.save(resolve(stale, "kanit", Outcome.REAL, None, JAN + timedelta(minutes=3)))
    repository.stop()
    sql = SqlAlertRepository(Database(database_url))
    sql.open()
    try:
        newer = record_note(acked, JAN + timedelta(hours=1), "note", "kanit", "the hub ran on SQL since")
        assert sql.merge([newer, stale]) == (2, 0, 0)
        report = migrate_alert_files(hot, sql)
        assert (report.added, report.replaced, report.already, report.missing_after) == (0, 1, 1, [])
        assert sql.get(acked.id) == newer  # not overwritten by the file's older copy
        assert sql.get(stale.id).state.value == "resolved"  # the file's newer copy replaced the stale one
    finally:
        sql.close()


def test_a_damaged_alert_file_fails_the_migration_and_is_left_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_release_files(data_dir)
    archive = data_dir / "alerts-2026-01.json"
    archive.write_bytes(archive.read_bytes()[:100])  # truncated
    before = snapshot(data_dir)
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"mqtt_password": "hub-password-1", "data_dir": str(data_dir)}))
    result = run("migrate", "--config", str(config))
    assert result.exit_code == 2
    assert "alert files damaged" in result.output and "old files are kept" in result.output
    assert str(archive) in json.loads(result.stdout)["alerts"]["damaged"][0]  # named by its real path
    assert json.loads(result.stdout)["alerts"]["added"] == 12  # the readable files are migrated
    assert snapshot(data_dir) == before  # not set aside: a person decides


@pytest.mark.parametrize("missing", ["alerts", "audit"])
def test_a_release_without_alert_or_audit_files_migrates_cleanly(tmp_path: Path, missing: str) -> None:
    data_dir = tmp_path / "data"
    write_release_files(data_dir)
    for path in data_dir.glob("alerts*.json" if missing == "alerts" else "audit.jsonl"):
        path.unlink()
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"mqtt_password": "hub-password-1", "data_dir": str(data_dir)}))
    result = run("migrate", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[missing]["read"] == 0
