"""The hub's one text catalogue: complete in both languages, no empty text, one lookup, and the
officers' pages word for word as before the catalogue held them."""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC, datetime

import pytest

from hub.alerting.messages import PostInfo, alert_message, kind_label
from hub.alerting.rules import Alert, AlertKind, AlertState, Severity
from hub.i18n import LANGUAGES, STRINGS, Translator, missing_keys, text, weekday_names

OPENED = datetime(2026, 11, 23, 16, 5, 9, tzinfo=UTC)
ALERT = Alert(
    id="A1",
    device="pos-a",
    kind=AlertKind.PANIC,
    severity=Severity.CRITICAL,
    state=AlertState.NEW,
    opened_at=OPENED,
    updated_at=OPENED,
)
POST = PostInfo("Pos RW 01", "Sukamaju", -7.7956, 110.3695)
LINK = "https://hub/alerts/A1"
MAP = "https://www.openstreetmap.org/?mlat=-7.795600&mlon=110.369500#map=18/-7.795600/110.369500"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_has_both_languages() -> None:
    assert set(STRINGS) == set(LANGUAGES)
    assert missing_keys() == {}
    assert set(STRINGS["id"]) == set(STRINGS["en"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_empty(language: str) -> None:
    assert [key for key, value in STRINGS[language].items() if not value.strip()] == []


def test_both_languages_fill_the_same_fields() -> None:
    differ = {key for key in STRINGS["id"] if _fields(STRINGS["id"][key]) != _fields(STRINGS["en"][key])}
    assert differ == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_alert_kind_and_state_has_its_texts(language: str) -> None:
    for kind in AlertKind:
        assert f"kind_{kind.value}" in STRINGS[language]
        assert f"page_kind_{kind.value}" in STRINGS[language]
    for state in AlertState:
        assert f"state_{state.value}" in STRINGS[language]
    assert len(weekday_names(language)) == 7


def test_lookup_falls_back_to_indonesian_then_to_the_key() -> None:
    assert text("logout", "en") == "Log out"
    assert text("logout", "xx") == text("logout") == "Keluar"
    assert text("no_such_key", "en") == "no_such_key"
    assert text("page_of", "id", page=2, pages=3, total=120) == "Halaman 2 dari 3 (120 kejadian)"


def test_translator_is_the_same_lookup() -> None:
    t = Translator("en")
    assert t("page_of", page=2, pages=3, total=120) == text("page_of", "en", page=2, pages=3, total=120)
    assert t.get("tl_new_action", "new action") == "new action"
    assert t.all()["weekday_0"] == "Mon"
    assert Translator("xx").language == "id"


def test_weekday_names() -> None:
    assert weekday_names("id") == ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
    assert weekday_names("en") == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def test_kind_labels() -> None:
    assert kind_label(AlertKind.PANIC, "id") == "PANIK"
    assert kind_label(AlertKind.HEALTH, "en") == "POST HEALTH WARNING"


def test_page_texts_in_indonesian_unchanged() -> None:
    page = alert_message(ALERT, POST, LINK, "Asia/Jakarta", "id", ack_link="https://hub/ack/TOK", repeat="reminder")
    assert page.title == "[PANIK] Pos RW 01"
    assert page.body == (
        "PENGINGAT: belum ada yang merespons. PANIK di Pos RW 01, Sukamaju.\n"
        "Waktu: 23-11-2026 23:05:09 WIB\n"
        f"Peta: {MAP}\n"
        "KONFIRMASI (1 ketuk): https://hub/ack/TOK\n"
        "Buka & konfirmasi: https://hub/alerts/A1"
    )


def test_page_texts_in_english_unchanged() -> None:
    page = alert_message(ALERT, POST, LINK, "Asia/Jakarta", "en", ack_link="https://hub/ack/TOK", repeat="reminder")
    assert page.title == "[PANIC] Pos RW 01"
    assert page.body == (
        "REMINDER: nobody has answered yet. PANIC at Pos RW 01, Sukamaju.\n"
        "Time: 23-11-2026 23:05:09 WIB\n"
        f"Map: {MAP}\n"
        "ACKNOWLEDGE (one tap): https://hub/ack/TOK\n"
        "Open & acknowledge: https://hub/alerts/A1"
    )


@pytest.mark.parametrize(
    ("language", "title", "body"),
    [
        (
            "id",
            "UJI COBA - [PERINGATAN KONDISI POS] Pos RW 01",
            "UJI COBA - ESKALASI: petugas piket belum merespons. PERINGATAN KONDISI POS di Pos RW 01, -.\n"
            "Waktu: 24-11-2026 00:05:09 WITA\nBuka & konfirmasi: https://hub/alerts/A1",
        ),
        (
            "en",
            "TEST - [POST HEALTH WARNING] Pos RW 01",
            "TEST - ESCALATED: the officer on duty has not answered. POST HEALTH WARNING at Pos RW 01, -.\n"
            "Time: 24-11-2026 00:05:09 WITA\nOpen & acknowledge: https://hub/alerts/A1",
        ),
        (
            "xx",
            "UJI COBA - [PERINGATAN KONDISI POS] Pos RW 01",  # an unknown language: Indonesian
            "UJI COBA - ESKALASI: petugas piket belum merespons. PERINGATAN KONDISI POS di Pos RW 01, -.\n"
            "Waktu: 24-11-2026 00:05:09 WITA\nBuka & konfirmasi: https://hub/alerts/A1",
        ),
    ],
)
def test_test_escalated_page_without_map_or_village(language: str, title: str, body: str) -> None:
    alert = dataclasses.replace(ALERT, test=True, kind=AlertKind.HEALTH)
    page = alert_message(alert, PostInfo("Pos RW 01", ""), LINK, "Asia/Makassar", language, repeat="escalated")
    assert (page.title, page.body) == (title, body)
