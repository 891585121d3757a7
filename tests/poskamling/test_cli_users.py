"""`poskamling user ...` through typer's CliRunner: the first admin, password rules, listing,
password changes, and a running hub that logs in with what the CLI wrote."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner, Result

from hub.accounts.users import UserStore
from poskamling.cli import app
from tests.support import HubHarness, post_entry

GOOD = "kentongan-Ronda-7"
OTHER = "Siskamling-malam-42"


def user(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["user", *args, "--config", str(config)], input=stdin)


def stored(data_dir: Path) -> UserStore:
    store = UserStore(data_dir / "users.json")
    store.open()
    return store


def write_config(path: Path, data_dir: Path) -> Path:
    path.write_text(yaml.safe_dump({"mqtt_password": "hub-password-1", "data_dir": str(data_dir)}))
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "hub-data"


@pytest.fixture
def config(tmp_path: Path, data_dir: Path) -> Path:
    return write_config(tmp_path / "hub.yaml", data_dir)


def test_first_admin_from_stdin_is_stored_hashed_and_can_log_in(config: Path, data_dir: Path) -> None:
    result = user(config, "add", "admin", "--role", "admin", "--password-stdin", stdin=GOOD + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "user admin (admin) created"
    assert GOOD not in (data_dir / "users.json").read_text()  # only the Argon2 hash is kept
    store = stored(data_dir)
    try:
        principal = store.verify("admin", GOOD)
        assert principal is not None and (principal.name, principal.role) == ("admin", "admin")
        assert store.verify("admin", OTHER) is None
    finally:
        store.close()


def test_the_prompt_asks_twice_and_a_mismatch_creates_nobody(config: Path, data_dir: Path) -> None:
    mismatch = user(config, "add", "op1", "--role", "operator", stdin=f"{GOOD}\n{OTHER}\n")
    assert mismatch.exit_code == 1  # re-prompted, then end of input: aborted
    assert "do not match" in mismatch.output and "created" not in mismatch.output
    assert GOOD not in mismatch.output  # the prompt hides the input
    prompted = user(config, "add", "op1", "--role", "operator", stdin=f"{GOOD}\n{GOOD}\n")
    assert prompted.exit_code == 0, prompted.output
    store = stored(data_dir)
    try:
        assert [(u.username, u.role) for u in store.all()] == [("op1", "operator")]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("admin", "admin", "", "at least 10 characters"),
        ("admin", "admin", "short1!", "at least 10 characters"),
        ("admin", "admin", "aaaaabbbbbaaaa", "too repetitive"),
        ("admin", "admin", "myadminpassword9", "must not contain the user name"),
        ("Admin User", "admin", GOOD, "user name: 2-32 characters"),
        ("boss", "superuser", GOOD, "role must be one of"),
    ],
)
def test_weak_passwords_and_bad_names_are_refused(
    config: Path, data_dir: Path, username: str, role: str, password: str, message: str
) -> None:
    result = user(config, "add", username, "--role", role, "--password-stdin", stdin=password + "\n")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("cannot add user: ") and message in result.stderr, result.stderr
    store = stored(data_dir)
    try:
        assert store.count() == 0
    finally:
        store.close()


def test_list_duplicate_and_password_change(config: Path, data_dir: Path) -> None:
    for name, role in (("tech1", "technician"), ("admin", "admin"), ("viewer1", "viewer")):
        assert user(config, "add", name, "--role", role, "--password-stdin", stdin=GOOD + "\n").exit_code == 0
    duplicate = user(config, "add", "admin", "--role", "viewer", "--password-stdin", stdin=OTHER + "\n")
    assert duplicate.exit_code == 2 and "user 'admin' exists already" in duplicate.stderr

    listing = user(config, "list")
    assert listing.exit_code == 0
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert rows == [["admin", "admin", "active"], ["tech1", "technician", "active"], ["viewer1", "viewer", "active"]]
    assert GOOD not in listing.stdout and "argon2" not in listing.stdout

    weak = user(config, "passwd", "admin", "--password-stdin", stdin="short\n")
    assert weak.exit_code == 2 and "cannot set password: password must have at least 10" in weak.stderr
    unknown = user(config, "passwd", "ghost", "--password-stdin", stdin=OTHER + "\n")
    assert unknown.exit_code == 2 and "no user 'ghost'" in unknown.stderr
    changed = user(config, "passwd", "admin", "--password-stdin", stdin=OTHER + "\n")
    assert changed.exit_code == 0 and changed.stdout.strip() == "password of admin changed"
    store = stored(data_dir)
    try:
        assert store.verify("admin", OTHER) is not None and store.verify("admin", GOOD) is None
        assert store.verify("tech1", GOOD) is not None  # the others are untouched
    finally:
        store.close()


def test_a_missing_or_invalid_config_is_named(tmp_path: Path) -> None:
    missing = user(tmp_path / "none.yaml", "list")
    assert missing.exit_code == 2 and f"{tmp_path / 'none.yaml'}: config file not found" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "d")}))  # no mqtt_password
    invalid = user(bad, "list")
    assert invalid.exit_code == 2 and "mqtt_password" in invalid.stderr and str(bad) in invalid.stderr


def _login(hub: HubHarness, password: str) -> int:
    assert hub.web is not None
    return httpx.post(
        f"{hub.web.url}/api/auth/login", json={"username": "admin", "password": password}, timeout=10
    ).status_code


def test_a_running_hub_sees_the_first_admin_and_a_password_reset(make_hub, tmp_path: Path) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    config = write_config(tmp_path / "running-hub.yaml", hub.data_dir)
    assert _login(hub, GOOD) == 401  # no default account
    assert user(config, "add", "admin", "--role", "admin", "--password-stdin", stdin=GOOD + "\n").exit_code == 0
    assert _login(hub, GOOD) == 200
    # The admin forgot the password: it is reset on the hub host while the hub runs.
    assert user(config, "passwd", "admin", "--password-stdin", stdin=OTHER + "\n").exit_code == 0
    assert _login(hub, OTHER) == 200
    assert _login(hub, GOOD) == 401


def test_the_hub_and_the_cli_never_overwrite_each_others_users(make_hub, tmp_path: Path) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    config = write_config(tmp_path / "running-hub.yaml", hub.data_dir)
    admin_api = hub.client("admin")
    assert user(config, "add", "admin", "--role", "admin", "--password-stdin", stdin=GOOD + "\n").exit_code == 0
    assert [u["username"] for u in admin_api.get("/api/admin/users").json()] == ["admin"]  # the hub has read the file
    assert user(config, "add", "op-cli", "--role", "operator", "--password-stdin", stdin=GOOD + "\n").exit_code == 0
    created = admin_api.post("/api/admin/users", json={"username": "op-api", "password": OTHER, "role": "operator"})
    assert created.status_code == 201, created.text
    assert [u["username"] for u in admin_api.get("/api/admin/users").json()] == ["admin", "op-api", "op-cli"]
    assert [line.split()[0] for line in user(config, "list").stdout.splitlines()] == ["admin", "op-api", "op-cli"]
