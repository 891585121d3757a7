"""`poskamling officers ...` through typer's CliRunner, on a temporary data folder and hub config.

What the commands write is read back the way the hub reads it (hub.officers.OfficerStore and
the hub's RosterResolver), and once by a real running hub that pages the officer the CLI added.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from hub.duty.officers import OfficerStore
from hub.duty.roster import OverrideKind, Roster
from poskamling.cli import app
from tests.support import post_entry, wait_for

MONDAY_23H = "2026-11-23T23:00+07:00"  # Monday 23:00 WIB
MONDAY_12H = "2026-11-23T12:00+07:00"
ID = re.compile(r"\b(?:shift|override) (\S+) added")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["officers", *args])


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def added_id(result: Result) -> str:
    match = ID.search(result.stdout)
    assert match, result.stdout
    return match.group(1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "hub-data"


@pytest.fixture
def config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mqtt_password": "hub-password-1",
                "data_dir": str(data_dir),
                "timezone": "Asia/Jakarta",
                "posts": [
                    post_entry("pos-rw01", "Pos RW 01", village="Sukamaju"),
                    post_entry("pos-rw09", "Pos RW 09", village="Mekarsari"),
                ],
            }
        )
    )
    return path


def roster(data_dir: Path) -> Roster:
    return OfficerStore(data_dir / "roster.json").roster()


def add_agus(*where: str) -> None:
    ok(
        "add",
        "agus",
        "--name",
        "Bripka Agus",
        "--rank",
        "Bhabinkamtibmas",
        "--village",
        "Sukamaju",
        "--url",
        "json://sink/agus",
        "--url",
        "tgram://123456:SECRETTOKEN/987",
        *where,
    )


def test_add_list_shift_override_fallback_and_remove(data_dir: Path) -> None:
    where = ("--data-dir", str(data_dir))
    assert "no roster stored" in ok("list", *where).stdout

    add_agus(*where)
    ok(
        "add",
        "kanit",
        "--name",
        "Iptu Kanit",
        "--url",
        "mailto://kanit@example.org",
        "--level",
        "2",
        "--language",
        "en",
        "--always-on-duty",
        *where,
    )
    ok("add", "sari", "--name", "Aipda Sari", "--url", "json://sink/sari", "--village", "Sukamaju", *where)
    shift = added_id(ok("shift", "agus", "--day", "senin", "--start", "22:00", "--end", "06:00", *where))
    leave = added_id(ok("leave", "agus", "--from", "2026-12-01T00:00+07:00", "--to", "2026-12-08T00:00+07:00", *where))
    extra = added_id(
        ok("extra", "sari", "--from", MONDAY_12H, "--to", "2026-11-23T18:00+07:00", "--note", "ronda", *where)
    )
    assert (
        "sari covers for agus"
        in ok(
            "swap", "agus", "sari", "--from", "2026-11-30T22:00+07:00", "--to", "2026-12-01T06:00+07:00", *where
        ).stdout
    )
    assert ok("fallback", "--url", "json://sink/piket", *where).stdout.strip() == "fallback saved"

    stored = roster(data_dir)
    officers = {o.id: o for o in stored.officers}
    assert set(officers) == {"agus", "kanit", "sari"}
    agus = officers["agus"]
    assert (agus.name, agus.rank, agus.villages, agus.level, agus.language, agus.always_on_duty) == (
        "Bripka Agus",
        "Bhabinkamtibmas",
        ("Sukamaju",),
        1,
        "id",
        False,
    )
    assert agus.urls == ("json://sink/agus", "tgram://123456:SECRETTOKEN/987")
    assert (officers["kanit"].level, officers["kanit"].language, officers["kanit"].always_on_duty) == (2, "en", True)
    [stored_shift] = stored.shifts
    assert (stored_shift.id, stored_shift.officer_id, stored_shift.weekday) == (shift, "agus", 0)
    assert (stored_shift.start, stored_shift.end) == (time(22, 0), time(6, 0))
    overrides = {o.id: o for o in stored.overrides}
    assert overrides[leave].kind is OverrideKind.OFF and overrides[leave].officer_id == "agus"
    assert overrides[leave].start.utcoffset().total_seconds() == 7 * 3600
    assert (overrides[extra].kind, overrides[extra].note) == (OverrideKind.ON, "ronda")
    swapped = sorted((o.officer_id, o.kind.value) for o in stored.overrides if o.id not in (leave, extra))
    assert swapped == [("agus", "off"), ("sari", "on")]
    assert stored.fallback is not None and stored.fallback.name == "Piket Polsek"
    assert stored.fallback.urls == ("json://sink/piket",) and stored.fallback.always_on_duty

    listing = ok("list", *where).stdout
    assert "agus" in listing and "L1 Bhabinkamtibmas Bripka Agus [Sukamaju]" in listing
    assert f"shift {shift}: mon 22:00-06:00" in listing
    assert f"off {leave}: 2026-12-01T00:00:00+07:00 .. 2026-12-08T00:00:00+07:00" in listing
    assert "L2 Iptu Kanit [all villages]" in listing and "always on duty" in listing
    assert "fallback: Piket Polsek" in listing
    assert "SECRETTOKEN" not in listing and "kanit@example.org" not in listing and "sink/piket" not in listing
    assert "tgram://…" in listing  # the channel is shown, the secret is not

    assert ok("unset", shift, *where).stdout.strip() == f"{shift} removed"
    assert roster(data_dir).shifts == ()
    assert ok("unset", extra, *where).stdout.strip() == f"{extra} removed"
    assert extra not in {o.id for o in roster(data_dir).overrides}

    assert ok("remove", "agus", *where).stdout.strip() == "officer agus removed"
    after = roster(data_dir)
    assert {o.id for o in after.officers} == {"kanit", "sari"}
    assert [o.officer_id for o in after.overrides] == ["sari"]  # agus's leave and swap went with him
    assert "Bripka Agus" not in ok("list", *where).stdout


def test_adding_an_existing_id_replaces_the_officer_and_keeps_the_shifts(data_dir: Path) -> None:
    where = ("--data-dir", str(data_dir))
    add_agus(*where)
    shift = added_id(ok("shift", "agus", "--day", "0", "--start", "08:00", "--end", "16:00", *where))
    ok("add", "agus", "--name", "Aipda Agus", "--url", "json://sink/agus2", *where)  # "Add or replace"
    stored = roster(data_dir)
    assert [(o.id, o.name, o.urls, o.villages) for o in stored.officers] == [
        ("agus", "Aipda Agus", ("json://sink/agus2",), ())
    ]
    assert [s.id for s in stored.shifts] == [shift]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("remove", "ghost"), "no officer 'ghost'"),
        (("unset", "01NOSUCHENTRY"), "no shift or override '01NOSUCHENTRY'"),
        (("shift", "ghost", "--day", "mon", "--start", "22:00", "--end", "06:00"), "no officer with id 'ghost'"),
        (("shift", "agus", "--day", "mon", "--start", "25:00", "--end", "06:00"), "start:"),
        (("shift", "agus", "--day", "mon", "--start", "22.00", "--end", "06:00"), "start:"),
        (("shift", "agus", "--day", "funday", "--start", "22:00", "--end", "06:00"), "unknown weekday 'funday'"),
        (("shift", "agus", "--day", "7", "--start", "22:00", "--end", "06:00"), "out of range"),
        (("leave", "agus", "--from", "tomorrow", "--to", "2026-12-08T00:00+07:00"), "'tomorrow' is not a date-time"),
        (("leave", "agus", "--from", "2026-12-01T00:00", "--to", "2026-12-08T00:00+07:00"), "needs a timezone"),
        (
            ("leave", "agus", "--from", "2026-12-08T00:00+07:00", "--to", "2026-12-01T00:00+07:00"),
            "end must be after its start",
        ),
        (("extra", "ghost", "--from", MONDAY_12H, "--to", MONDAY_23H), "no officer with id 'ghost'"),
        (("swap", "agus", "ghost", "--from", MONDAY_12H, "--to", MONDAY_23H), "no officer with id 'ghost'"),
        (("add", "Agus Besar", "--name", "Agus", "--url", "json://sink/a"), "id: String should match pattern"),
        (("add", "budi", "--name", "Budi", "--url", "081234567890"), "apprise URL"),
        (("add", "budi", "--name", "Budi", "--url", "json://sink/b", "--language", "fr"), "language:"),
        (("add", "budi", "--name", "Budi", "--url", "json://sink/b", "--level", "0"), "level:"),
        (("add", "budi", "--name", "", "--url", "json://sink/b"), "name:"),
        (("fallback", "--url", "not a url"), "apprise URL"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    data_dir: Path, args: tuple[str, ...], message: str
) -> None:
    where = ("--data-dir", str(data_dir))
    add_agus(*where)
    before = roster(data_dir)
    result = run(*args, *where)
    assert result.exit_code == 2, (result.output, result.exception)
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert roster(data_dir) == before


def test_a_swap_whose_cover_is_unknown_leaves_no_half_swap(data_dir: Path) -> None:
    """The `away` officer must not be taken off duty when the `covering` one does not exist."""
    where = ("--data-dir", str(data_dir))
    add_agus(*where)
    result = run("swap", "agus", "ghost", "--from", MONDAY_12H, "--to", MONDAY_23H, *where)
    assert result.exit_code == 2
    assert roster(data_dir).overrides == ()


def test_the_config_option_finds_the_data_folder_and_a_missing_config_is_named(
    config: Path, data_dir: Path, tmp_path: Path
) -> None:
    add_agus("--config", str(config))
    assert [o.id for o in roster(data_dir).officers] == ["agus"]
    missing = tmp_path / "nope.yaml"
    result = run("list", "--config", str(missing))
    assert result.exit_code == 2 and f"{missing}: config file not found" in result.stderr


def test_on_duty_follows_shifts_leave_and_the_fallback(config: Path) -> None:
    where = ("--config", str(config))
    nobody = run("on-duty", "pos-rw01", "--at", MONDAY_23H, *where)
    assert nobody.exit_code == 2 and "nobody would be paged for pos-rw01" in nobody.stderr
    add_agus(*where)
    ok(
        "add",
        "kanit",
        "--name",
        "Iptu Kanit",
        "--rank",
        "Kanit Binmas",
        "--url",
        "json://sink/kanit",
        "--level",
        "2",
        "--always-on-duty",
        *where,
    )
    ok("shift", "agus", "--day", "mon", "--start", "22:00", "--end", "06:00", *where)

    in_shift = ok("on-duty", "pos-rw01", "--at", MONDAY_23H, *where).stdout.splitlines()
    assert in_shift == ["step 1: Bripka Agus (Bhabinkamtibmas)", "step 2: Iptu Kanit (Kanit Binmas)"]
    past_midnight = ok("on-duty", "pos-rw01", "--at", "2026-11-24T05:59+07:00", *where).stdout
    assert past_midnight.startswith("step 1: Bripka Agus")
    # Outside the shift, only the Kanit is on duty; with no level-1 officer and no fallback he is step 1.
    assert ok("on-duty", "pos-rw01", "--at", MONDAY_12H, *where).stdout.splitlines() == [
        "step 1: Iptu Kanit (Kanit Binmas)"
    ]
    # Agus covers Sukamaju only: another village's post never reaches him.
    assert "Agus" not in ok("on-duty", "pos-rw09", "--at", MONDAY_23H, *where).stdout

    ok("fallback", "--url", "json://sink/piket", *where)
    ok("leave", "agus", "--from", "2026-11-23T00:00+07:00", "--to", "2026-11-24T00:00+07:00", *where)
    on_leave = ok("on-duty", "pos-rw01", "--at", MONDAY_23H, *where).stdout.splitlines()
    assert on_leave == ["step 1: Piket Polsek (L1)", "step 2: Iptu Kanit (Kanit Binmas)"]

    unknown = run("on-duty", "pos-nowhere", *where)
    assert unknown.exit_code == 2 and "no post 'pos-nowhere'" in unknown.stderr
    ok("remove", "kanit", *where)
    assert ok("on-duty", "pos-rw09", "--at", MONDAY_23H, *where).stdout.splitlines() == ["step 1: Piket Polsek (L1)"]


def test_a_running_hub_pages_the_officer_the_cli_added(make_hub, make_post, sink) -> None:
    hub = make_hub([post_entry("pos-rw01", "Pos RW 01", village="Sukamaju")], officers=[])
    where = ("--data-dir", str(hub.data_dir))
    ok(
        "add",
        "agus",
        "--name",
        "Bripka Agus",
        "--village",
        "Sukamaju",
        "--url",
        sink.url("cli-agus"),
        "--always-on-duty",
        *where,
    )
    ok(
        "add",
        "sari",
        "--name",
        "Aipda Sari",
        "--village",
        "Mekarsari",
        "--url",
        sink.url("cli-sari"),
        "--always-on-duty",
        *where,
    )

    post = make_post("pos-rw01")
    wait_for(lambda: post.agent.connected, what="post connected")
    post.press()
    page = sink.wait_for(lambda r: r.path == "/cli-agus", timeout=15)
    assert page is not None, "the officer added with the CLI was not paged"
    api = hub.client("viewer")
    alert = wait_for(
        lambda: next((a for a in api.get("/api/alerts").json() if a["state"] == "notified"), None),
        what="alert notified",
    )
    assert alert["paged"] == ["Bripka Agus"]
    assert not any(r.path == "/cli-sari" for r in sink.received)
