"""Hub user accounts: creation rules, verification, rehashing, and no default account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from hub.accounts.auth import Principal
from hub.accounts.users import UserError, UserStore
from tests.support import post_entry

GOOD = "kopi-tubruk-42"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[UserStore]:
    users = UserStore(tmp_path / "users.json")
    users.open()
    yield users
    users.close()


@pytest.mark.parametrize("name", ["a", "Admin", "-lead", "has space", "x" * 33, "budi@polsek", ""])
def test_user_names_outside_the_pattern_are_refused(store: UserStore, name: str) -> None:
    with pytest.raises(UserError, match="user name"):
        store.create(name, GOOD, "viewer")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "at least"),
        ("xx-budi-2024-xx", "user name"),
        ("aaaaaaaaaaaa", "repetitive"),
        ("abababababab", "repetitive"),
    ],
)
def test_weak_passwords_are_refused(store: UserStore, password: str, why: str) -> None:
    with pytest.raises(UserError, match=why):
        store.create("budi", password, "operator")
    assert store.count() == 0


def test_unknown_role_and_duplicates_are_refused(store: UserStore) -> None:
    with pytest.raises(UserError, match="role"):
        store.create("budi", GOOD, "root")  # type: ignore[arg-type]
    store.create("budi", GOOD, "operator")
    with pytest.raises(UserError, match="exists already"):
        store.create("budi", "another-pass-77", "admin")
    assert [u.role for u in store.all()] == ["operator"]


def test_password_is_stored_only_as_argon2_hash(store: UserStore, tmp_path: Path) -> None:
    store.create("budi", GOOD, "operator")
    text = (tmp_path / "users.json").read_text()
    assert GOOD not in text and "$argon2id$" in text


def test_verify_right_wrong_unknown_and_disabled(store: UserStore) -> None:
    store.create("budi", GOOD, "technician")
    assert store.verify("budi", GOOD) == Principal("budi", "technician")
    assert store.verify("budi", GOOD.upper()) is None
    assert store.verify("budi", "") is None
    assert store.verify("nobody", GOOD) is None
    store.set_disabled("budi", True)
    assert store.verify("budi", GOOD) is None  # right password, disabled account
    store.set_disabled("budi", False)
    assert store.verify("budi", GOOD) is not None
    store.set_password("budi", "teh-manis-dingin")
    assert store.verify("budi", GOOD) is None and store.verify("budi", "teh-manis-dingin") is not None
    store.delete("budi")
    assert store.verify("budi", "teh-manis-dingin") is None
    for action in (
        lambda: store.set_password("nobody", GOOD),
        lambda: store.set_disabled("nobody", True),
        lambda: store.delete("nobody"),
    ):
        with pytest.raises(UserError, match="no user"):
            action()


def test_old_hash_parameters_are_upgraded_on_login(store: UserStore, tmp_path: Path) -> None:
    default_hasher = store._hasher
    store._hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)  # an older, weaker setting
    store.create("budi", GOOD, "viewer")
    old_hash = store._table.all()[0]["password_hash"]
    store._hasher = default_hasher
    assert default_hasher.check_needs_rehash(old_hash)
    assert store.verify("budi", GOOD) is not None
    new_hash = store._table.all()[0]["password_hash"]
    assert new_hash != old_hash and not default_hasher.check_needs_rehash(new_hash)
    assert store.verify("budi", GOOD) is not None
    # A wrong password never rewrites the hash.
    assert store.verify("budi", "wrong-password-1") is None
    assert store._table.all()[0]["password_hash"] == new_hash


def test_no_default_account_exists_after_start(make_hub) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    assert hub.service is not None and hub.service.users.count() == 0
    api = hub.client(role=None)
    for username, password in (
        ("admin", "admin"),
        ("admin", "password"),
        ("root", "root"),
        ("poskamling", "poskamling"),
    ):
        response = api.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code in (401, 422), (username, response.status_code)


# -- a damaged users file (issue 18) ----------------------------------------------------------
def _damage(path: Path, kind: str) -> bytes:
    raw = path.read_bytes()
    content = b"" if kind == "zero-length" else raw[: len(raw) // 2]
    path.write_bytes(content)
    return content


@pytest.mark.parametrize("kind", ["zero-length", "truncated"])
def test_a_damaged_users_file_is_set_aside_reported_and_fails_closed(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "users.json"
    first = UserStore(path)
    first.open()
    first.create("budi", GOOD, "admin")
    first.close()
    content = _damage(path, kind)

    users = UserStore(path)
    users.open()  # the hub still starts
    try:
        assert len(users.damaged) == 1 and users.damaged[0].startswith("users.json: damaged")
        aside = list(tmp_path.glob("users.json.damaged-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == content  # kept for the admin, never deleted
        assert users.count() == 0 and users.verify("budi", GOOD) is None  # no one logs in: fails closed
        users.create("sari", GOOD, "admin")  # `poskamling user add` makes a new admin
        assert users.verify("sari", GOOD) == Principal("sari", "admin")
    finally:
        users.close()


def test_a_missing_users_file_is_a_fresh_install_not_damage(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "new" / "users.json")
    users.open()
    assert users.damaged == [] and users.count() == 0
    users.close()
