"""The admins' dead-letter page renders every stored value escaped; other roles cannot see it."""

from __future__ import annotations

import pytest

from tests.hub.web.test_dashboard import login
from tests.support import post_entry

pytestmark = pytest.mark.e2e

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_admins_see_dead_letters_escaped_and_others_do_not(make_hub) -> None:
    hub = make_hub([post_entry("pos-a")])
    letters = hub.service.dead_letters
    letters.add(
        topic="kamling/v1/pos-a/event",
        payload=HOSTILE.encode(),
        device="pos-a",
        event_id=None,
        reason="handle_failed",
        error=ValueError(HOSTILE),
    )
    letters.add(
        topic="kamling/v1/pos-a/event",
        payload=b"\xff\xfe\x00binary",
        device="pos-a",
        event_id="01BIN",
        reason="commit_failed",
        error=TypeError("not JSON serializable"),
    )

    admin, _ = login(hub, "kepala", "admin")
    page = admin.get("/admin/deadletters", params={"lang": "en"})
    assert page.status_code == 200 and "Dead letters" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text  # escaped, never markup
    assert "base64" in page.text and "01BIN" in page.text
    assert admin.get("/admin/deadletters", params={"page": "99"}).status_code == 200  # past the end: empty page

    operator, _ = login(hub, "operator1", "operator")
    assert operator.get("/admin/deadletters").status_code == 403
    api = hub.client("admin").get("/api/admin/deadletters", params={"limit": 1}).json()
    assert api["total"] == 2 and len(api["items"]) == 1 and api["items"][0]["event_id"] == "01BIN"  # newest first
    assert hub.client("admin").get("/api/admin/deadletters", params={"limit": 0}).status_code == 422
