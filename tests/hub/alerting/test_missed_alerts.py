"""A hub that stopped after committing a panic (acked: the post will not send it again) but before
saving its alert must raise that alert when it starts again: a panic is never left without one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hub.alerting.rules import AlertKind
from hub.alerting.service import AlertService
from hub.alerting.store import AlertRepository
from hub.paging.notify import RecordingNotifier
from hub.paging.pager import ThreadPager
from hub.settings import HubSettings
from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from kamling.protocol import Event, EventKind, new_event_id, utc_now
from poskamling.httpsink import NotificationSink
from tests.support import HubHarness, post_entry, wait_for


def event(kind: EventKind, device: str = "pos-a", seq: int = 1, **data: object) -> Event:
    return Event(id=new_event_id(), device=device, seq=seq, kind=kind, ts=utc_now(), data=dict(data))


def service(tmp_path: Path, notifier: RecordingNotifier) -> AlertService:
    settings = HubSettings(
        mqtt_password="unused",
        data_dir=tmp_path,
        posts=[post_entry("pos-a")],
        officers=[{"name": "officer", "urls": ["json://x/officer"]}],
    )
    posts = {p.device_id: p for p in settings.posts}
    alerts = AlertService(
        settings,
        posts.get,
        ThreadPager(notifier),
        lambda *_: None,
        AlertRepository(tmp_path / "alerts.json"),
        run_timer=False,
    )
    alerts.start()
    return alerts


def test_only_alerting_events_without_an_alert_are_raised(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    alerts = service(tmp_path, notifier)
    try:
        handled = event(EventKind.TAMPER, seq=1, state="open")
        alerts.handle_event(handled)
        missed = event(EventKind.PANIC, seq=2)
        quiet = event(EventKind.CHECKIN, seq=3)
        raised = alerts.raise_missed([quiet, missed, handled])
        assert [a.kind for a in raised] == [AlertKind.PANIC]
        assert list(raised[0].event_ids) == [missed.id]
        assert alerts.raise_missed([missed, handled]) == []  # now it has one
        wait_for(lambda: len(notifier.sent) == 2)  # the tamper and the missed panic were paged
    finally:
        alerts.stop()


def test_a_committed_panic_without_its_alert_is_raised_and_paged_at_start(
    make_hub: Callable[..., HubHarness], sink: NotificationSink, tmp_path: Path
) -> None:
    # What a crash leaves behind: the panic is in the event log, no alert was saved.
    store = SqlEventStore(Database(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"))  # the hub's default store
    store.open()
    panic = event(EventKind.PANIC, device="pos-a", seq=7)
    stale = Event(id=new_event_id(), device="pos-a", seq=3, kind=EventKind.PANIC, ts=utc_now() - timedelta(days=3))
    for item in (stale, panic):
        record = item.model_dump(mode="json")
        record["received_at"] = item.ts.isoformat()
        store.append([record])
    store.close()

    hub = make_hub([post_entry("pos-a")])
    assert hub.service is not None
    panics = [a for a in hub.service.alerts.all() if a.kind is AlertKind.PANIC]
    assert [list(a.event_ids) for a in panics] == [[panic.id]]  # not the three-day-old one
    page = sink.wait_for(lambda r: r.path == "/officer", timeout=30)
    assert page is not None and "PANIK" in str(page.body).upper()
