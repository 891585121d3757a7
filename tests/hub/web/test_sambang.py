"""Police visits (sambang) over HTTP against the real hub: the officer's personal link, the poster's
post-bound link, the 300 m flag, once per officer per post per hour, and refused tokens."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.community.links import CommunityLinks
from tests.support import HubHarness, post_entry

pytestmark = pytest.mark.e2e

POST_LAT, POST_LON = -6.2000, 106.8166


def _post(device_id: str, name: str, lat: float | None = POST_LAT, lon: float | None = POST_LON) -> dict:
    return {**post_entry(device_id, name), "lat": lat, "lon": lon}


@pytest.fixture
def hub(make_hub, sink) -> HubHarness:
    return make_hub(
        [
            _post("pos-rw01", "Pos Kamling RW 01"),
            _post("pos-rw02", "Pos Kamling RW 02"),
            _post("pos-rw03", "Pos Tanpa Peta", None, None),
        ],
        officers=[{"name": "Bripka Agus", "urls": [sink.url("agus")]}],
    )


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _officer_browser(hub: HubHarness) -> httpx.Client:
    """A phone that opened the officer's personal link once (the cookie stays for /sambang)."""
    phone = httpx.Client(base_url=hub.web.url, timeout=10)
    opened = phone.get(_path(hub.service.community.officer_url("settings-1")))
    assert opened.status_code == 200 and "Bripka Agus" in opened.text
    assert "kamling_officer" in phone.cookies
    return phone


def _visit(phone: httpx.Client, path: str, **fields: str) -> httpx.Response:
    page = phone.get(path)
    assert page.status_code == 200, page.text
    form_token = re.search(r'name="form" value="([^"]+)"', page.text).group(1)
    return phone.post(path, data={"form": form_token, **fields})


def test_a_visit_near_the_post_is_recorded_once_per_hour(hub: HubHarness) -> None:
    sambang, _ = hub.service.community.poster_urls("pos-rw01")
    phone = _officer_browser(hub)
    page = phone.get(_path(sambang))
    assert "Pos Kamling RW 01" in page.text and "Bripka Agus" in page.text
    assert "geolocation=(self)" in page.headers["permissions-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]

    recorded = _visit(phone, _path(sambang), lat="-6.2009", lon="106.8166", accuracy="15", note="Aman, 3 warga ronda")
    assert recorded.status_code == 201, recorded.text
    assert "Kunjungan tercatat" in recorded.text and 'data-testid="flag">none<' in recorded.text
    visits = hub.client("viewer").get("/api/sambang/visits").json()
    assert len(visits) == 1 and visits[0]["flag"] is None and 90 < visits[0]["distance_m"] < 110
    assert visits[0]["officer"] == "settings-1" and visits[0]["note"] == "Aman, 3 warga ronda"
    audit = hub.client("admin").get("/api/admin/audit", params={"action": "sambang."}).json()
    assert any(entry["action"] == "sambang.visit" and entry["target"] == "pos-rw01" for entry in audit)

    again = _visit(phone, _path(sambang), lat="-6.2009", lon="106.8166")
    assert again.status_code == 429 and "sudah tercatat pukul" in again.text
    assert len(hub.client("viewer").get("/api/sambang/visits").json()) == 1
    assert "Kunjungan terakhir Anda" in phone.get(_path(sambang)).text


def test_far_and_missing_locations_are_flagged(hub: HubHarness) -> None:
    phone = _officer_browser(hub)
    far = _visit(phone, _path(hub.service.community.poster_urls("pos-rw01")[0]), lat="-6.2100", lon="106.8166")
    assert far.status_code == 201 and 'data-testid="flag">far<' in far.text and "lebih dari 300 m" in far.text
    none = _visit(phone, _path(hub.service.community.poster_urls("pos-rw02")[0]), lat="NaN", lon="")
    assert none.status_code == 201 and 'data-testid="flag">no_location<' in none.text
    unplaced = _visit(phone, _path(hub.service.community.poster_urls("pos-rw03")[0]), lat="-6.2", lon="106.8")
    assert 'data-testid="flag">post_unplaced<' in unplaced.text
    flags = {v["post"]: v["flag"] for v in hub.client("viewer").get("/api/sambang/visits").json()}
    assert flags == {"pos-rw01": "far", "pos-rw02": "no_location", "pos-rw03": "post_unplaced"}


def test_forged_tampered_and_expired_links_are_refused_with_a_page(hub: HubHarness) -> None:
    phone = _officer_browser(hub)
    sambang, lapor = hub.service.community.poster_urls("pos-rw01")
    token = _path(sambang).removeprefix("/sambang/")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for path in (f"/sambang/{tampered}", "/sambang/nonsense", "/sambang/" + _path(lapor).removeprefix("/lapor/")):
        for response in (phone.get(path), phone.post(path, data={"note": "x"})):
            assert response.status_code == 403, path
            assert "Tautan ini tidak sah" in response.text
    key = (hub.data_dir / "poster_link.key").read_bytes().strip()
    expired = CommunityLinks(key).issue("sambang", "pos-rw01", -1)
    response = phone.get(f"/sambang/{expired}")
    assert response.status_code == 410 and "kedaluwarsa" in response.text
    gone = CommunityLinks(key).issue("sambang", "pos-removed", 3600)
    assert phone.get(f"/sambang/{gone}").status_code == 404
    assert phone.get("/sambang/saya/" + tampered).status_code == 403
    assert hub.client("viewer").get("/api/sambang/visits").json() == []


def test_without_an_officer_or_a_form_token_nothing_is_recorded(hub: HubHarness) -> None:
    path = _path(hub.service.community.poster_urls("pos-rw01")[0])
    stranger = httpx.Client(base_url=hub.web.url, timeout=10)
    page = stranger.get(path)
    assert page.status_code == 200 and 'data-testid="login-needed"' in page.text and "visit-form" not in page.text
    assert stranger.post(path, data={"note": "x"}).status_code == 401
    phone = _officer_browser(hub)
    assert phone.post(path, data={"note": "no form token"}).status_code == 403  # a cross-site post cannot know it
    other_post_form = re.search(
        r'name="form" value="([^"]+)"', phone.get(_path(hub.service.community.poster_urls("pos-rw02")[0])).text
    ).group(1)
    assert phone.post(path, data={"form": other_post_form}).status_code == 403
    assert hub.client("viewer").get("/api/sambang/visits").json() == []
