"""`poskamling hub export|import|migrate|backup|restore` on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from typer.testing import CliRunner, Result
from ulid import ULID

from hub.storage.events import EventQuery, TinyEventStore
from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from poskamling.cli import app

T0 = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)


def event(seq: int, device: str = "pos-rw01", kind: str = "panic") -> dict:
    moment = T0 + timedelta(minutes=seq)
    return {
        "id": str(ULID()),
        "device": device,
        "seq": seq,
        "kind": kind,
        "ts": moment.isoformat(),
        "received_at": (moment + timedelta(seconds=2)).isoformat(),
        "test": False,
        "data": {},
    }


def hub_config(path: Path, data_dir: Path, database_url: str | None) -> Path:
    data: dict = {"mqtt_password": "hub-password-1", "data_dir": str(data_dir)}
    if database_url:
        data["database_url"] = database_url
    path.write_text(yaml.safe_dump(data))
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["hub", *args])


def opened(url: str) -> SqlEventStore:
    store = SqlEventStore(Database(url))
    store.open()
    return store


def newest(url: str) -> list[dict]:
    store = opened(url)
    try:
        return store.query(EventQuery(limit=1000)).items
    finally:
        store.close()


@pytest.fixture
def filled(database_url: str, tmp_path: Path) -> tuple[Path, str, list[dict]]:
    config = hub_config(tmp_path / "hub.yaml", tmp_path / "data", database_url)
    events = [event(n, device="pos-rw01" if n % 2 else "pos-rw02") for n in range(1, 41)]
    store = opened(database_url)
    store.append(events)
    store.close()
    return config, database_url, events


def test_export_then_import_into_an_empty_hub_and_again_adds_nothing(filled, tmp_path: Path) -> None:
    config, _url, events = filled
    dump = tmp_path / "events.jsonl"
    result = run("export", "--config", str(config), "--output", str(dump))
    assert result.exit_code == 0, result.output
    lines = dump.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [e["id"] for e in events]  # oldest first

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other = hub_config(tmp_path / "other.yaml", tmp_path / "other", other_url)
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(dump.read_bytes()))
    first = run("import", str(packed), "--config", str(other))
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["added"] == 40
    again = run("import", str(dump), "--config", str(other))
    assert json.loads(again.output) | {"problems": []} == {
        "read": 40,
        "added": 0,
        "already_stored": 40,
        "bad": 0,
        "problems": [],
    }
    assert newest(other_url) == newest(filled[1])


def test_export_honours_since_and_until_and_needs_a_timezone(filled, tmp_path: Path) -> None:
    config, _url, _events = filled
    out = tmp_path / "part.jsonl"
    since, until = (T0 + timedelta(minutes=10)).isoformat(), (T0 + timedelta(minutes=20)).isoformat()
    assert run("export", "--config", str(config), "-o", str(out), "--since", since, "--until", until).exit_code == 0
    assert [json.loads(line)["seq"] for line in out.read_text().splitlines()] == list(range(10, 20))
    naive = run("export", "--config", str(config), "--since", "2026-11-01T20:00:00")
    assert naive.exit_code == 2 and "timezone" in naive.output


def test_bad_lines_are_reported_by_number_and_skipped_and_the_good_ones_imported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    config = hub_config(tmp_path / "hub.yaml", tmp_path / "data", url)
    good = [event(1), event(2)]
    bad_seq = event(3) | {"seq": "3"}
    no_time = {k: v for k, v in event(4).items() if k != "received_at"}
    text = "\n".join(
        [json.dumps(good[0]), "{not json", json.dumps(bad_seq), json.dumps(no_time), "", json.dumps(good[1])]
    )
    (tmp_path / "mixed.jsonl").write_text(text)
    result = run("import", str(tmp_path / "mixed.jsonl"), "--config", str(config))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["added"], report["bad"]) == (2, 3)
    assert [p.split(":")[0] for p in report["problems"]] == ["line 2", "line 3", "line 4"]
    assert "seq" in report["problems"][1] and "received_at" in report["problems"][2]
    assert {e["id"] for e in newest(url)} == {good[0]["id"], good[1]["id"]}


def test_migrate_copies_a_tinydb_event_log_written_by_the_previous_release(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old = TinyEventStore(data_dir / "events")
    old.open()
    events = [event(n, device=f"pos-rw0{n % 3 + 1}") for n in range(1, 301)]
    old.append(events[:150])
    old.append(events[150:])
    old.close()
    url = f"sqlite:///{data_dir / 'hub.db'}"
    config = hub_config(tmp_path / "hub.yaml", data_dir, None)
    first = run("migrate", "--config", str(config))
    assert first.exit_code == 0, first.output
    assert '"missing_after": 0' in first.output and '"added": 300' in first.output
    again = run("migrate", "--config", str(config))  # resumable: a second run adds nothing and still checks
    assert again.exit_code == 0 and '"already_stored": 300' in again.output
    store = opened(url)
    try:
        assert store.count() == 300
        assert store.last_seqs() == {"pos-rw01": 300, "pos-rw02": 298, "pos-rw03": 299}
    finally:
        store.close()
    assert any((data_dir / "events").iterdir())  # the old files are kept


def test_backup_then_restore_into_an_empty_hub_gives_the_same_log(filled, tmp_path: Path, database_url: str) -> None:
    config, url, _events = filled
    before = newest(url)
    copy = tmp_path / "backup.bin"
    result = run("backup", str(copy), "--config", str(config))
    assert result.exit_code == 0, result.output
    if url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path / 'restored' / 'hub.db'}"
        (tmp_path / "restored").mkdir()
    else:
        target = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1] + "_restored"
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{target.rsplit("/", 1)[1]}"')
    restored = hub_config(tmp_path / "restored.yaml", tmp_path / "restored-data", target)
    done = run("restore", str(copy), "--config", str(restored))
    assert done.exit_code == 0, done.output
    assert newest(target) == before


def test_restore_refuses_a_damaged_backup(tmp_path: Path) -> None:
    config = hub_config(tmp_path / "hub.yaml", tmp_path / "data", f"sqlite:///{tmp_path / 'hub.db'}")
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    result = run("restore", str(broken), "--config", str(config))
    assert result.exit_code == 2 and str(broken) in result.output
