"""`poskamling ronda ...` through typer's CliRunner on a temporary data folder, read back as the hub reads it."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

from typer.testing import CliRunner, Result

from hub.ronda.roster import ChangeKind, guards_on
from hub.ronda.store import RondaStore
from poskamling.cli import app


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["ronda", *args, "--data-dir", str(data_dir)])


def ok(data_dir: Path, *args: str) -> Result:
    result = run(data_dir, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def test_guards_changes_and_hours(tmp_path: Path) -> None:
    ok(tmp_path, "add", "budi", "--name", "Budi", "--post", "pos-rw01", "--nights", "senin,sat", "--card", "00ab12cd")
    ok(tmp_path, "add", "joko", "--name", "Joko", "--post", "pos-rw01", "--phone", "+6281200001111")
    off = ok(tmp_path, "off", "budi", "--night", "2026-11-23", "--note", "sakit")
    ok(tmp_path, "on", "joko", "--night", "2026-11-23")
    ok(tmp_path, "hours", "Sukamaju", "--start", "21:00", "--end", "03:00", "--round", "45", "--grace", "5")

    roster = RondaStore(tmp_path / "ronda.json").roster()
    budi = roster.guard("budi")
    assert budi is not None and budi.nights == (0, 5) and budi.card_id == "00AB12CD"
    assert [g.id for g in guards_on(roster, "pos-rw01", date(2026, 11, 23))] == ["joko"]
    assert {c.kind for c in roster.changes} == {ChangeKind.ON, ChangeKind.OFF}
    hours = roster.hours_for("sukamaju")
    assert (hours.start, hours.end, hours.round_minutes, hours.grace_minutes) == (time(21), time(3), 45, 5)

    listing = ok(tmp_path, "list").stdout
    assert "budi" in listing and "mon,sat" in listing and "sakit" in listing
    assert "hours Sukamaju: 21:00-03:00" in listing

    change_id = re.search(r"change (\S+) added", off.stdout).group(1)  # type: ignore[union-attr]
    ok(tmp_path, "unchange", change_id)
    ok(tmp_path, "remove", "joko")
    roster = RondaStore(tmp_path / "ronda.json").roster()
    assert [g.id for g in roster.guards] == ["budi"] and roster.changes == ()


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    ok(tmp_path, "add", "budi", "--name", "Budi", "--post", "pos-rw01", "--card", "0012345678")
    taken = run(tmp_path, "add", "sari", "--name", "Sari", "--post", "pos-rw02", "--card", "0012345678")
    assert taken.exit_code == 2 and "already belongs to guard 'budi'" in taken.output
    assert run(tmp_path, "add", "x", "--name", "X", "--post", "pos-rw01", "--nights", "someday").exit_code == 2
    assert run(tmp_path, "add", "Bad Id", "--name", "X", "--post", "pos-rw01").exit_code == 2
    assert run(tmp_path, "off", "nobody", "--night", "2026-11-23").exit_code == 2
    assert run(tmp_path, "off", "budi", "--night", "tomorrow").exit_code == 2
    assert run(tmp_path, "hours", "Sukamaju", "--start", "late").exit_code == 2
    assert run(tmp_path, "remove", "nobody").exit_code == 2
