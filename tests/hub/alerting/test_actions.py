"""Operators' actions on alerts (issue 15): the pure rules, and the alert service on SQLite and on a
real PostgreSQL (the `database_url` fixture): notes, assigning an officer (who is paged "you are
assigned" with a working ack link), incidents reported by phone, per-kind procedures, the audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.alerting.actions import (
    MAX_NOTE,
    InvalidText,
    UnknownOfficer,
    UnknownPost,
    add_note,
    assign,
    clean_text,
    join_manual,
    manual_report,
    open_manual,
)
from hub.alerting.procedures import ProcedureStore, default_procedure
from hub.alerting.rules import AlertKind, Outcome, TransitionError, open_alert, resolve
from hub.alerting.service import AlertService
from hub.alerting.sql_store import SqlAlertRepository
from hub.paging.notify import RecordingNotifier
from hub.paging.pager import ThreadPager
from hub.settings import HubSettings
from hub.storage.audit import AlertAuditor
from hub.storage.sql.audit import SqlAuditLog
from hub.storage.sql.database import Database
from kamling.protocol import AlertState, Event, EventKind, new_event_id
from tests.support import wait_for

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 22:00 WIB


# -- pure rules --------------------------------------------------------------------------------------


def test_clean_text_keeps_what_people_type_and_names_the_field_of_what_it_refuses() -> None:
    assert clean_text("text", "  Pelaku lari\r\nke utara\t(2 orang)  ", 100) == "Pelaku lari\nke utara\t(2 orang)"
    assert clean_text("text", "Warga 👍 ramah", 100) == "Warga 👍 ramah"
    assert clean_text("reporter_phone", None, 30, required=False) == ""
    cases = [
        ("", "empty"),
        ("   \n ", "empty"),
        ("x" * 101, "too_long"),
        ("bel\x07", "control_chars"),
        ("nul\x00", "control_chars"),
        ("esc\x1b[2J", "control_chars"),
        ("abc\u202edcba", "control_chars"),  # a bidi override: reads differently from what it holds
        ("\ud800", "control_chars"),  # a lone surrogate
        (123, "type"),
    ]
    for value, reason in cases:
        with pytest.raises(InvalidText) as caught:
            clean_text("text", value, 100)
        assert (caught.value.field, caught.value.reason) == ("text", reason), value
    with pytest.raises(InvalidText, match="reporter: must be one line"):
        clean_text("reporter", "Pak Budi\nRT 03", 100, multiline=False)


def test_notes_and_assignments_go_on_the_timeline_of_open_alerts_only() -> None:
    alert = open_alert("pos-a", AlertKind.PANIC, T0)
    noted = add_note(alert, "operator1", " pelapor menelepon lagi ", T0 + timedelta(seconds=5))
    assert noted.timeline[-1] == noted.timeline[-1].__class__(
        T0 + timedelta(seconds=5), "note", "operator1", "pelapor menelepon lagi"
    )
    assert noted.updated_at == T0 + timedelta(seconds=5) and noted.state is AlertState.NEW
    with pytest.raises(InvalidText):
        add_note(alert, "operator1", "x" * (MAX_NOTE + 1), T0)
    assigned = assign(noted, "operator1", "agus", "Bripka Agus", T0)
    assert (assigned.assigned_id, assigned.assigned_to) == ("agus", "Bripka Agus")
    assert assigned.timeline[-1].action == "assigned" and assigned.timeline[-1].detail == "Bripka Agus"
    closed = resolve(assigned, "operator1", Outcome.REAL, None, T0)
    with pytest.raises(TransitionError):
        add_note(closed, "operator1", "terlambat", T0)
    with pytest.raises(TransitionError):
        assign(closed, "operator1", "agus", "Bripka Agus", T0)
    assert type(closed).from_record(closed.to_record()) == closed  # the new fields survive a round trip


def test_manual_reports_are_checked_field_by_field_and_distinguishable() -> None:
    report = manual_report("fire", "phone", "Asap dari gudang", "Pak Budi", "+62 812-3456")
    alert = open_manual("pos-a", report, "operator1", T0)
    assert alert.kind is AlertKind.MANUAL and alert.event_ids == ()
    assert alert.timeline[0].action == "reported" and alert.timeline[0].actor == "operator1"
    assert alert.details["source"] == "phone" and alert.details["entered_by"] == "operator1"
    joined = join_manual(alert, manual_report("fire", "in_person", "Api membesar", "Bu Sri"), "operator2", T0)
    assert [e.action for e in joined.timeline] == ["reported", "reported"]
    assert joined.details["reporter"] == "Pak Budi" and joined.details["messages"] == [
        "Asap dari gudang",
        "Api membesar",
    ]
    for args, field in [
        (("arson", "phone", "x", "y"), "kind"),
        (("fire", "radio", "x", "y"), "source"),
        (("fire", "phone", "", "y"), "description"),
        (("fire", "phone", "x", "Pak\x00Budi"), "reporter"),
        (("fire", "phone", "x", "y", "0812; DROP"), "reporter_phone"),
    ]:
        with pytest.raises(InvalidText) as caught:
            manual_report(*args)
        assert caught.value.field == field


def test_procedures_default_per_language_and_admin_text_survives(tmp_path: Path) -> None:
    store = ProcedureStore(tmp_path / "procedures.json")
    for kind in AlertKind:
        assert store.get(kind, "id").text == default_procedure(kind, "id") and not store.get(kind, "id").custom
    assert "110" in store.get(AlertKind.PANIC, "id").text
    assert store.get(AlertKind.PANIC, "en").text != store.get(AlertKind.PANIC, "id").text
    store.put(AlertKind.UNSTAFFED, "Telepon Pak RT 03.\nLalu patroli.", "admin1", T0)
    again = ProcedureStore(tmp_path / "procedures.json").get(AlertKind.UNSTAFFED, "en")
    assert (again.text, again.custom, again.updated_by) == ("Telepon Pak RT 03.\nLalu patroli.", True, "admin1")
    with pytest.raises(InvalidText):
        store.put(AlertKind.PANIC, "\x1b[31m", "admin1", T0)
    assert store.reset(AlertKind.UNSTAFFED) and not store.reset(AlertKind.UNSTAFFED)
    assert not store.get(AlertKind.UNSTAFFED, "id").custom


def test_a_damaged_procedures_file_is_set_aside_and_defaults_are_shown(tmp_path: Path) -> None:
    path = tmp_path / "procedures.json"
    path.write_text('{"procedures": {"1": {"kind": "panic", "te')
    store = ProcedureStore(path)
    assert not store.get(AlertKind.PANIC, "id").custom
    assert store.damaged and "procedures.json" in store.damaged[0]
    store.put(AlertKind.PANIC, "Baru", "admin1", T0)
    assert store.get(AlertKind.PANIC, "id").text == "Baru"


# -- the service on both SQL backends ----------------------------------------------------------------

POSTS = [{"device_id": "pos-a", "name": "Pos A", "village": "Sukamaju", "lat": -7.8, "lon": 110.37}]
OFFICERS = [
    {"name": "Bhabin", "urls": ["json://sink/bhabin"], "villages": ["Sukamaju"], "level": 1},
    {"name": "Kanit", "urls": ["json://sink/kanit"], "level": 2, "language": "en"},
]


class Service:
    """An AlertService on the SQL repository of `url`, with a recording notifier and an SQL audit log."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.settings = HubSettings(
            mqtt_password="x", data_dir=tmp_path, posts=POSTS, officers=OFFICERS, public_url="https://hub.test"
        )
        self.notifier = RecordingNotifier()
        posts = {p.device_id: p for p in self.settings.posts}
        self.audit = SqlAuditLog(Database(url))
        self.audit.open()
        self.alerts = AlertService(
            self.settings,
            posts.get,
            ThreadPager(self.notifier),
            lambda device, update: None,
            SqlAlertRepository(Database(url)),
            clock=lambda: T0,
            run_timer=False,
        )
        self.alerts.listeners.append(AlertAuditor(self.audit))
        self.alerts.start()

    def stop(self) -> None:
        self.alerts.stop()
        self.audit.close()

    def pages(self, count: int) -> list[tuple[list[str], str, str]]:
        wait_for(lambda: len(self.notifier.sent) >= count, timeout=5, what=f"{count} pages")
        return list(self.notifier.sent)


def reloaded(url: str, alert_id: str):  # type: ignore[no-untyped-def]
    repository = SqlAlertRepository(Database(url))
    try:
        return repository.get(alert_id)
    finally:
        repository.close()


def panic() -> Event:
    return Event(id=new_event_id(), device="pos-a", seq=1, kind=EventKind.PANIC, ts=T0)


@pytest.fixture
def service(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    instance = Service(tmp_path, database_url)
    yield instance
    instance.stop()


def test_a_note_is_stored_on_the_timeline_and_audited(service: Service, database_url: str) -> None:
    alert = service.alerts.handle_event(panic())
    service.pages(1)
    noted = service.alerts.add_note(alert.id, "operator1", "Pelapor: pelaku 2 orang, motor merah")
    assert noted.timeline[-1].action == "note"
    with pytest.raises(InvalidText) as caught:
        service.alerts.add_note(alert.id, "operator1", "\x00" * 10)
    assert caught.value.field == "text"
    with pytest.raises(KeyError):
        service.alerts.add_note("01NOSUCHALERT0000000000000", "operator1", "x")
    service.alerts.resolve(alert.id, "operator1", Outcome.REAL, None)
    with pytest.raises(TransitionError):
        service.alerts.add_note(alert.id, "operator1", "sudah ditutup")
    service.alerts.repository.flush()  # type: ignore[attr-defined]
    stored = reloaded(database_url, alert.id)
    notes = [(e.actor, e.detail) for e in stored.timeline if e.action == "note"]
    assert notes == [("operator1", "Pelapor: pelaku 2 orang, motor merah")]
    audited = service.audit.read(action="alert.note")
    assert [(a["actor"], a["target"], a["detail"]["detail"]) for a in audited] == [
        ("operator1", alert.id, "Pelapor: pelaku 2 orang, motor merah")
    ]


def test_assigning_pages_the_officer_in_their_language_with_their_ack_link(service: Service, database_url: str) -> None:
    alert = service.alerts.handle_event(panic())
    service.pages(1)  # the duty chain's first level: Bhabin
    kanit = next(o for o in service.alerts.assignable() if o.name == "Kanit")
    assigned = service.alerts.assign(alert.id, "operator1", kanit.id)
    assert (assigned.assigned_to, assigned.assigned_id) == ("Kanit", kanit.id)
    urls, title, body = service.pages(2)[1]
    assert urls == ["json://sink/kanit"]
    assert title == "[ASSIGNED: PANIC] Pos A"
    assert body.startswith("You are assigned to PANIC at Pos A, Sukamaju (by operator1).")
    token = body.split("https://hub.test/ack/", 1)[1].split()[0]
    claim = service.alerts.links.verify(token, alert.id)  # type: ignore[union-attr]
    assert (claim.officer, claim.language) == ("Kanit", "en")
    wait_for(lambda: service.alerts.get(alert.id).timeline[-1].detail == "Kanit (assigned)", what="page recorded")
    assert "Kanit" in service.alerts.get(alert.id).paged
    with pytest.raises(UnknownOfficer):
        service.alerts.assign(alert.id, "operator1", "nobody")
    service.alerts.repository.flush()  # type: ignore[attr-defined]
    stored = reloaded(database_url, alert.id)
    assert (stored.assigned_to, stored.assigned_id) == ("Kanit", kanit.id)
    assert [e.actor for e in stored.timeline if e.action == "assigned"] == ["operator1"]
    assert [a["target"] for a in service.audit.read(action="alert.assign")] == [alert.id]
    # an Indonesian officer gets the Indonesian page
    bhabin = next(o for o in service.alerts.assignable() if o.name == "Bhabin")
    service.alerts.assign(alert.id, "operator2", bhabin.id)
    _urls, title, body = service.pages(3)[2]
    assert title == "[DITUGASKAN: PANIK] Pos A" and body.startswith("Anda ditugaskan menangani PANIK di Pos A")
    assert "KONFIRMASI (1 ketuk): https://hub.test/ack/" in body


def test_a_phoned_in_incident_opens_a_manual_alert_that_pages_the_duty_chain(
    service: Service, database_url: str
) -> None:
    report = manual_report("fire", "phone", "Asap dari gudang beras", "Pak Budi", "0812 3456")
    alert, opened = service.alerts.report_incident("pos-a", report, "operator1")
    assert opened and alert.kind is AlertKind.MANUAL
    urls, title, body = service.pages(1)[0]
    assert urls == ["json://sink/bhabin"] and title == "[LAPORAN MASUK] Pos A"
    assert body.splitlines()[1] == "Laporan telepon: Kebakaran - Asap dari gudang beras (pelapor: Pak Budi 0812 3456)"
    again, opened = service.alerts.report_incident(
        "pos-a", manual_report("fire", "in_person", "Api membesar", "Bu Sri"), "operator2"
    )
    assert not opened and again.id == alert.id
    with pytest.raises(UnknownPost):
        service.alerts.report_incident("pos-zz", report, "operator1")
    with pytest.raises(UnknownPost):
        service.alerts.report_incident("_hub", report, "operator1")
    service.alerts.repository.flush()  # type: ignore[attr-defined]
    stored = reloaded(database_url, alert.id)
    assert stored.kind is AlertKind.MANUAL and stored.details["reporter"] == "Pak Budi"
    assert [(e.action, e.actor) for e in stored.timeline][:2] == [("reported", "operator1"), ("paging", "system")]
    assert [e.actor for e in stored.timeline if e.action == "reported"] == ["operator1", "operator2"]
    assert [a["actor"] for a in service.audit.read(action="alert.report")] == ["operator2", "operator1"]
    # a post's own alert is told apart: opened by the post, not reported by an operator
    post_alert = service.alerts.handle_event(panic())
    assert post_alert.timeline[0].action == "opened" and post_alert.timeline[0].actor == "pos-a"
