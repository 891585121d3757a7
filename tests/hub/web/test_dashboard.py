"""Dashboard pages over HTTP (httpx against the real hub): login, redirects, roles, i18n, pages."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from hub.i18n import STRINGS, Translator, choose_language, missing_keys
from hub.storage.events import EventQuery
from hub.web.mapview import build_map, world_xy
from hub.web.routes.dashboard import safe_next
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e


def strong_password() -> str:
    return "Pw-" + secrets.token_urlsafe(16)


def login(hub, username: str, role: str = "operator") -> tuple[httpx.Client, str]:
    password = strong_password()
    hub.service.users.create(username, password, role)
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    response = client.post("/login", data={"username": username, "password": password, "next": "/"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = client.get("/api/auth/me").json()
    return client, me["csrf_token"]


@pytest.fixture
def hub(make_hub):
    return make_hub([post_entry("pos-a", "Pos Kamling RW 01"), post_entry("pos-b", "Pos Kamling RW 02", "Mulyorejo")])


# -- pure parts ---------------------------------------------------------------------------------


def test_every_string_exists_in_both_languages() -> None:
    assert missing_keys() == {}
    assert Translator("en")("page_of", page=2, pages=3, total=120) == "Page 2 of 3 (120 events)"
    assert Translator("xx")("logout") == STRINGS["id"]["logout"]
    assert Translator("id")("no_such_key") == "no_such_key"


def test_language_from_query_then_cookie_then_default() -> None:
    assert choose_language("en", "id", "id") == "en"
    assert choose_language(None, "en", "id") == "en"
    assert choose_language("fr", None, "id") == "id"
    assert choose_language(None, None, "en") == "en"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "", None, "javascript:x"])
def test_next_only_allows_local_paths(target) -> None:
    assert safe_next(target) == "/"


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/alerts/01ABC?x=1") == "/alerts/01ABC?x=1"


def test_map_fits_posts_inside_the_box_and_keeps_their_layout() -> None:
    view = build_map(
        [("a", "A", -7.80, 110.36), ("b", "B", -7.82, 110.40), ("c", "C", None, None)], width=800, height=500, margin=40
    )
    assert [m.device_id for m in view.markers] == ["a", "b"]
    for marker in view.markers:
        assert 40 - 1e-6 <= marker.x <= 760 + 1e-6 and 40 - 1e-6 <= marker.y <= 460 + 1e-6
    a, b = view.markers
    assert b.x > a.x and b.y > a.y  # east is right, south is down
    assert view.tiles == ()


def test_map_tiles_only_with_a_tile_url_and_aligned_with_markers() -> None:
    view = build_map([("a", "A", -7.8, 110.37)], tile_url="http://tiles.lan/{z}/{x}/{y}.png")
    assert view.zoom == 16 and view.tiles
    x, y = world_xy(-7.8, 110.37, 16)
    marker = view.markers[0]
    tile = next(t for t in view.tiles if t.url == f"http://tiles.lan/16/{int(x // 256)}/{int(y // 256)}.png")
    assert tile.x <= marker.x < tile.x + 256 and tile.y <= marker.y < tile.y + 256
    assert build_map([]).markers == ()


# -- pages over HTTP ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/posts", "/events", "/officers", "/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV"])
def test_pages_need_a_session_and_come_back_after_login(hub, path) -> None:
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    password = strong_password()
    hub.service.users.create("viewer1", password, "viewer")
    form = client.get(response.headers["location"])
    assert form.status_code == 200 and 'name="password"' in form.text
    target = re.search(r'name="next" value="([^"]*)"', form.text).group(1)
    assert target == path
    back = client.post("/login", data={"username": "viewer1", "password": password, "next": target})
    assert back.status_code == 303 and back.headers["location"] == path


def test_wrong_password_shows_the_form_again(hub) -> None:
    hub.service.users.create("operator1", strong_password(), "operator")
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    response = client.post("/login", data={"username": "operator1", "password": "not-the-password"})
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in response.text
    assert "kamling_session" not in response.cookies


def test_no_account_means_no_way_in_and_a_hint(hub) -> None:
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert "poskamling user add" in client.get("/login").text
    response = client.post("/login", data={"username": "admin", "password": "admin"})
    assert response.status_code == 401


def test_console_is_indonesian_by_default_and_english_on_request(hub) -> None:
    client, _ = login(hub, "operator1")
    page = client.get("/")
    assert page.status_code == 200 and '<html lang="id">' in page.text and "Konsol langsung" in page.text
    assert "Aktifkan suara" in page.text
    english = client.get("/?lang=en")
    assert "Live console" in english.text and english.cookies.get("kamling_lang") == "en"
    assert "Live console" in client.get("/").text  # the cookie remembers the choice
    assert "Konsol langsung" in client.get("/?lang=id").text


def test_posts_page_lists_every_post_with_state_and_a_map(hub, make_post) -> None:
    make_post("pos-a")
    client, _ = login(hub, "viewer1", "viewer")
    wait_for(lambda: hub.service.registry.state("pos-a").online, what="pos-a online")
    page = client.get("/posts").text
    assert "Pos Kamling RW 01" in page and "Pos Kamling RW 02" in page and "Mulyorejo" in page
    assert 'id="posts-map"' in page and page.count('class="marker') == 2
    row_a = re.search(r'<tr id="post-pos-a".*?</tr>', page, re.S).group(0)
    row_b = re.search(r'<tr id="post-pos-b".*?</tr>', page, re.S).group(0)
    assert "Terhubung" in row_a and "Belum terdengar" in row_b
    assert "<image" not in page  # no tiles unless configured: works on an offline LAN
    assert "https://" not in page  # nothing from the internet


def test_alert_detail_shows_timeline_and_viewers_get_no_buttons(hub, make_post) -> None:
    post = make_post("pos-a")
    wait_for(lambda: hub.service.registry.state("pos-a").online, what="pos-a online")
    post.press()
    alert = wait_for(lambda: hub.service.alerts.all(), what="alert raised")[0]
    operator, csrf = login(hub, "operator1")
    page = operator.get(f"/alerts/{alert.id}")
    assert page.status_code == 200 and "Panik" in page.text and 'data-testid="ack-button"' in page.text
    assert 'data-action="opened"' in page.text and "dibuka" in page.text  # timeline entry, translated
    viewer, _ = login(hub, "viewer1", "viewer")
    view = viewer.get(f"/alerts/{alert.id}").text
    assert 'data-testid="ack-button"' not in view and "Anda hanya dapat melihat" in view
    # The API enforces the same: a viewer cannot acknowledge, an operator needs the CSRF token.
    assert viewer.post(f"/api/alerts/{alert.id}/ack", json={}).status_code in (403,)
    assert operator.post(f"/api/alerts/{alert.id}/ack", json={}).status_code == 403
    acked = operator.post(f"/api/alerts/{alert.id}/ack", json={}, headers={"X-CSRF-Token": csrf})
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "operator1"
    fragment = viewer.get(f"/alerts/{alert.id}?fragment=1").text
    assert "<html" not in fragment and "operator1" in fragment and 'data-state="acknowledged"' in fragment
    assert operator.get("/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404


def test_event_log_filters_and_pages(hub, make_post) -> None:
    post = make_post("pos-a")
    wait_for(lambda: hub.service.registry.state("pos-a").online, what="pos-a online")
    post.press()
    wait_for(lambda: hub.service.store.query(EventQuery()).total >= 1, what="event stored")
    client, _ = login(hub, "viewer1", "viewer")
    page = client.get("/events").text
    assert 'data-testid="events-table"' in page and "Panik" in page and "Halaman 1 dari 1 (1 kejadian)" in page
    assert "Tidak ada kejadian" in client.get("/events", params={"device": "pos-b"}).text
    assert "Tidak ada kejadian" in client.get("/events", params={"kind": "motion"}).text
    assert "Tidak ada kejadian" in client.get("/events", params={"since": "2999-01-01T00:00"}).text
    assert "Panik" in client.get("/events", params={"since": "2000-01-01T00:00", "kind": "panic"}).text


def test_officers_page_shows_officers_without_their_secret_urls(hub) -> None:
    client, _ = login(hub, "viewer1", "viewer")
    page = client.get("/officers")
    assert page.status_code == 200 and "officer" in page.text
    assert "json" in page.text and hub.sink.url("officer") not in page.text


def test_logout_needs_the_csrf_token_and_ends_the_session(hub) -> None:
    client, csrf = login(hub, "operator1")
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    response = client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_static_assets_are_served_locally(hub) -> None:
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    for name in ("dashboard.css", "live.js", "console.js", "posts.js", "alert.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert "http://" not in response.text and "https://" not in response.text, name


def test_login_form_uses_the_hub_throttle_and_says_so(make_hub) -> None:
    hub = make_hub(
        [post_entry("pos-a")], login={"account_free_failures": 1, "account_base_delay": 60, "account_max_delay": 60}
    )
    password = strong_password()
    hub.service.users.create("operator1", password, "operator")
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert client.post("/login", data={"username": "operator1", "password": "wrong-password-1"}).status_code == 401
    assert client.post("/login", data={"username": "operator1", "password": "wrong-password-2"}).status_code == 429
    locked = client.post("/login", data={"username": "operator1", "password": password})  # even the right one waits
    assert locked.status_code == 429 and "Terlalu banyak percobaan" in locked.text
    assert int(locked.headers["retry-after"]) >= 1 and "kamling_session" not in locked.cookies


def test_event_log_pages_through_many_events(hub) -> None:
    from datetime import timedelta

    from kamling.protocol import new_event_id, utc_now

    start = utc_now() - timedelta(hours=2)
    records = [
        {
            "id": new_event_id(),
            "device": "pos-a",
            "seq": n + 1,
            "kind": "checkin",
            "ts": (start + timedelta(seconds=n)).isoformat(),
            "data": {},
            "test": False,
            "received_at": utc_now().isoformat(),
        }
        for n in range(120)
    ]
    hub.service.store.append(records)
    client, _ = login(hub, "viewer1", "viewer")
    first = client.get("/events", params={"device": "pos-a"}).text
    assert "Halaman 1 dari 3 (120 kejadian)" in first and first.count("<tr data-event-id=") == 50
    older = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "device=pos-a" in older and "page=2" in older and "cursor=" in older  # keyset: the filters kept
    assert "Berikutnya" in first
    second = client.get(older).text
    assert "Halaman 2 dari 3" in second and second.count("<tr data-event-id=") == 50
    older = re.search(r'<a href="([^"]+)" rel="next">', second).group(1).replace("&amp;", "&")
    last = client.get(older).text
    assert last.count("<tr data-event-id=") == 20 and 'rel="next"' not in last and 'rel="prev"' in last
    seen = [re.findall(r'data-event-id="([^"]+)"', page) for page in (first, second, last)]
    assert len({i for ids in seen for i in ids}) == 120  # every event once across the three pages
    assert client.get("/events", params={"cursor": "garbage", "page": 7}).status_code == 200  # back to the newest


def test_officers_page_shows_the_stored_roster_and_who_is_on_duty(hub) -> None:
    from hub.duty.roster import Officer

    store = hub.service.alerts.officers
    store.put_officer(
        Officer(
            id="agus",
            name="Bripka Agus",
            rank="Bhabinkamtibmas",
            villages=("Sukamaju",),
            urls=("tgram://bot-token-secret/123",),
            always_on_duty=True,
        )
    )
    store.put_officer(Officer(id="sari", name="Aipda Sari", urls=("mailto://user:pw@example.lan",), level=2))
    store.add_shift(officer_id="sari", weekday=0, start="22:00", end="06:00")
    client, _ = login(hub, "viewer1", "viewer")
    page = client.get("/officers").text
    assert "Bripka Agus" in page and "Aipda Sari" in page and "Bhabinkamtibmas" in page
    agus = re.search(r"<tr[^>]*>\s*<td>Bripka Agus.*?</tr>", page, re.S).group(0)
    assert "tgram" in agus and ">ya<" in agus
    assert "bot-token-secret" not in page and "user:pw" not in page
    shift = re.search(r"<tr><td>Aipda Sari</td><td>Senin</td><td>22:00\u201306:00</td></tr>", page)
    assert shift is not None, page
