"""Visits and reports in SQL, on SQLite and PostgreSQL (migrations 0010, 0011)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.community.store import CommunityStore, Report, Visit
from hub.storage.sql.database import Database

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def _visit(n: int, officer: str = "agus", post: str = "pos-rw01", at: datetime = T0) -> Visit:
    return Visit(
        id=f"v{n:03d}",
        post=post,
        officer=officer,
        officer_name="Bripka Agus",
        at=at,
        lat=-6.2,
        lon=106.8,
        accuracy_m=12.0,
        distance_m=40.5,
        flag=None,
        note="aman",
        photo=None,
        via="link",
        client="10.0.0.1",
    )


def _report(n: int, alert_id: str, at: datetime = T0) -> Report:
    return Report(
        id=f"r{n:03d}",
        post="pos-rw01",
        at=at,
        category="pencurian",
        text="<script>x</script>",
        phone=None,
        lat=None,
        lon=None,
        location_shared=False,
        photo=None,
        client="10.0.0.9",
        alert_id=alert_id,
    )


def test_visits_and_reports_round_trip_and_count(database_url: str, tmp_path: Path) -> None:
    store = CommunityStore(Database(database_url), tmp_path / "photos")
    store.open()
    store.open()  # migrations apply once
    try:
        store.add_visit(_visit(1, at=T0))
        store.add_visit(_visit(2, at=T0 + timedelta(hours=2)))
        store.add_visit(_visit(3, officer="budi", at=T0 + timedelta(hours=1)))
        assert store.last_visit("pos-rw01", "agus").id == "v002"
        assert store.last_visit("pos-rw01").id == "v002"
        assert store.last_visit("pos-rw02") is None
        assert [v.id for v in store.visits(post="pos-rw01", since=T0 + timedelta(minutes=30))] == ["v002", "v003"]
        assert store.get_visit("v001") == _visit(1, at=T0)

        for n in range(3):
            store.add_report(_report(n, "alert-a"))
        store.add_report(_report(9, "alert-b"))
        assert store.close_reports("alert-a", "false_report", T0, "operator") == 3
        assert store.close_reports("alert-a", "escalated", T0, "operator") == 0  # an outcome stands
        counts = store.report_counts()
        assert counts == {"open": 1, "escalated": 0, "false_report": 3, "closed": 0, "total": 4}
        assert store.get_report("r000").text == "<script>x</script>"  # stored as typed; pages escape it
        assert store.reports(alert_id="alert-b")[0].outcome is None
    finally:
        store.close()


def test_photos_are_files_and_names_cannot_escape_the_folder(tmp_path: Path) -> None:
    store = CommunityStore(Database(f"sqlite:///{tmp_path / 'hub.db'}"), tmp_path / "photos")
    store.open()
    name = store.save_photo("r001", b"\xff\xd8\xff\xd9", "image/jpeg")
    assert name == "r001.jpg" and (tmp_path / "photos" / name).stat().st_mode & 0o777 == 0o600
    assert store.photo_path(name) == tmp_path / "photos" / name
    for bad in ("../hub.db", "/etc/passwd", ".r001.jpg.tmp", None, ""):
        assert store.photo_path(bad) is None
    store.close()
