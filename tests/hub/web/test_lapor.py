"""Residents' quick reports over HTTP against the real hub: a report becomes a low-severity alert that
pages nobody; an operator escalates it (paged like a panic) or closes it as false (counted); floods
are throttled per address and per post; photos lose their location unless the resident shares it."""

from __future__ import annotations

import io
import struct

import httpx
import pytest
from PIL import Image

from hub.community.images import MAX_PHOTO_BYTES
from tests.support import HubHarness, post_entry, wait_for

pytestmark = pytest.mark.e2e

GPS_MARK = b"GPSLatitude-6.2000"


def _photo_with_exif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "#c33").save(buffer, format="JPEG")
    exif = b"Exif\x00\x00" + GPS_MARK
    plain = buffer.getvalue()
    return plain[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + plain[2:]


@pytest.fixture
def hub(make_hub, sink) -> HubHarness:
    return make_hub(
        [post_entry("pos-rw01", "Pos Kamling RW 01"), post_entry("pos-rw02", "Pos Kamling RW 02")],
        officers=[{"name": "Bripka Agus", "urls": [sink.url("agus")]}],
    )


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _lapor(hub: HubHarness, post: str = "pos-rw01") -> str:
    return _path(hub.service.community.poster_urls(post)[1])


def _report_alerts(hub: HubHarness, kind: str = "report") -> list[dict]:
    return [a for a in hub.client("viewer").get("/api/alerts").json() if a["kind"] == kind]


def test_a_report_lands_as_an_unpaged_alert_and_escalation_pages(hub: HubHarness, sink) -> None:
    resident = httpx.Client(base_url=hub.web.url, timeout=10)
    form = resident.get(_lapor(hub))
    assert form.status_code == 200 and "Lapor cepat" in form.text and "Pos Kamling RW 01" in form.text
    text = '<script>alert("x")</script> ada orang membawa linggis'
    sent = resident.post(_lapor(hub), data={"category": "mencurigakan", "text": text, "phone": "0812 3456 7890"})
    assert sent.status_code == 201 and "Laporan terkirim" in sent.text

    alert = wait_for(lambda: next(iter(_report_alerts(hub)), None), what="report alert")
    assert alert["severity"] == "warning" and alert["device"] == "pos-rw01"
    assert alert["details"]["text"] == text and alert["details"]["phone"] == "0812 3456 7890"
    assert "not_paged" in [e["action"] for e in alert["timeline"]]
    assert not [r for r in list(sink.received) if r.path == "/agus"]  # a report pages nobody by itself

    operator = hub.client("operator")
    assert operator.post(f"/api/lapor/{alert['id']}/escalate", json={"note": "cek"}).status_code == 200
    incident = wait_for(lambda: next(iter(_report_alerts(hub, "incident")), None), what="incident alert")
    assert incident["severity"] == "major" and incident["details"]["from_report"] == alert["id"]
    page = sink.wait_for(lambda r: r.path == "/agus", timeout=15)
    assert page is not None and "LAPORAN WARGA DIESKALASI" in page.body.get("message", "")
    closed = operator.get(f"/api/alerts/{alert['id']}").json()
    assert closed["state"] == "resolved" and closed["outcome"] == "real"
    assert operator.get("/api/lapor/reports", params={"alert_id": alert["id"]}).json()[0]["outcome"] == "escalated"
    assert operator.post(f"/api/lapor/{alert['id']}/escalate").status_code == 409  # already closed
    assert operator.post(f"/api/lapor/{incident['id']}/false").status_code == 409  # not a report
    assert hub.client("viewer").post(f"/api/lapor/{incident['id']}/false").status_code == 403


def test_a_false_report_is_closed_and_counted(hub: HubHarness) -> None:
    resident = httpx.Client(base_url=hub.web.url, timeout=10)
    assert resident.post(_lapor(hub), data={"category": "kebakaran"}).status_code == 201
    assert resident.post(_lapor(hub), data={"category": "lainnya", "text": "lagi"}).status_code == 201
    [alert] = _report_alerts(hub)  # the second joined the open one
    assert alert["details"]["reports"] == 2
    response = hub.client("operator").post(f"/api/lapor/{alert['id']}/false", json={})
    assert response.status_code == 200 and response.json()["outcome"] == "false_alarm"
    summary = hub.client("viewer").get("/api/lapor/summary").json()
    assert summary["false_report"] == 2 and summary["total"] == 2 and summary["open"] == 0


def test_a_flood_from_one_address_is_throttled_with_a_clear_message(hub: HubHarness) -> None:
    resident = httpx.Client(base_url=hub.web.url, timeout=10)
    for _ in range(3):
        assert resident.post(_lapor(hub), data={"category": "keributan"}).status_code == 201
    refused = resident.post(_lapor(hub), data={"category": "keributan"})
    assert refused.status_code == 429
    assert "Terlalu banyak laporan dari jaringan ini" in refused.text and "menit" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert len(hub.client("viewer").get("/api/lapor/reports").json()) == 3


def test_photos_lose_their_location_unless_shared_and_bad_input_is_refused(hub: HubHarness) -> None:
    resident = httpx.Client(base_url=hub.web.url, timeout=10)
    photo = _photo_with_exif()
    files = {"photo": ("foto.jpg", photo, "image/jpeg")}
    assert (
        resident.post(
            _lapor(hub), data={"category": "pencurian", "lat": "-6.2", "lon": "106.8"}, files=files
        ).status_code
        == 201
    )
    assert (
        resident.post(
            _lapor(hub, "pos-rw02"),
            data={"category": "pencurian", "share_location": "yes", "lat": "-6.2", "lon": "106.8"},
            files=files,
        ).status_code
        == 201
    )
    viewer = hub.client("viewer")
    reports = {r["post"]: r for r in viewer.get("/api/lapor/reports").json()}
    assert reports["pos-rw01"]["lat"] is None and reports["pos-rw02"]["lat"] == -6.2
    hidden = viewer.get(f"/api/lapor/reports/{reports['pos-rw01']['id']}/photo")
    shared = viewer.get(f"/api/lapor/reports/{reports['pos-rw02']['id']}/photo")
    assert hidden.status_code == 200 and GPS_MARK not in hidden.content and hidden.content.startswith(b"\xff\xd8")
    assert GPS_MARK in shared.content
    assert httpx.get(hub.web.url + f"/api/lapor/reports/{reports['pos-rw01']['id']}/photo").status_code == 401

    other = httpx.Client(base_url=hub.web.url, timeout=10)  # the same address: limits are per address, so few posts
    bad_type = other.post(
        _lapor(hub, "pos-rw02"),
        data={"category": "pencurian"},
        files={"photo": ("x.svg", b"<svg onload=alert(1)>", "image/jpeg")},
    )
    assert bad_type.status_code == 400 and "JPEG atau PNG" in bad_type.text
    too_big = other.post(
        _lapor(hub, "pos-rw02"),
        data={"category": "pencurian"},
        files={"photo": ("big.jpg", b"\xff\xd8\xff" + b"\x00" * (MAX_PHOTO_BYTES + 70_000), "image/jpeg")},
    )
    assert too_big.status_code == 413
    assert other.post(_lapor(hub, "pos-rw02"), data={"category": "bom"}).status_code == 400
    assert other.post(_lapor(hub, "pos-rw02"), data={"category": "lainnya", "phone": "call me"}).status_code == 400
    assert len(viewer.get("/api/lapor/reports").json()) == 2


def test_forged_and_cross_purpose_links_are_refused(hub: HubHarness) -> None:
    resident = httpx.Client(base_url=hub.web.url, timeout=10)
    sambang_token = _path(hub.service.community.poster_urls("pos-rw01")[0]).removeprefix("/sambang/")
    for path in ("/lapor/x.y", f"/lapor/{sambang_token}"):
        assert resident.get(path).status_code == 403
        assert resident.post(path, data={"category": "lainnya"}).status_code == 403
    assert hub.client("viewer").get("/api/lapor/reports").json() == []
