"""No false "offline" page storm when the broker restarts; a post that stays away is still paged (issue 17).

A broker that stops sends every post's Last Will (`offline`, retained) and the restarted broker hands
them to the hub again; the posts reconnect a few seconds later. The hub holds offline statuses for
`offline_hold_after_connect` seconds after its own reconnect (hub/alerting/offline_hold.py).
"""

from __future__ import annotations

from poskamling.httpsink import NotificationSink, Received
from tests.support import post_entry, wait_for

POSTS = ("pos-oh01", "pos-oh02", "pos-oh03")


def offline_pages(sink: NotificationSink, name: str | None = None) -> list[Received]:
    found = []
    for item in sink.received:
        text = f"{item.body.get('title', '')} {item.body.get('body', '')} {item.body.get('message', '')}"
        if item.path == "/officer" and "TERPUTUS" in text and (name is None or name in text):
            found.append(item)
    return found


def test_broker_restart_pages_nobody_and_a_post_that_stays_away_is_paged_once(
    make_hub, make_post, broker, sink
) -> None:
    hub = make_hub(
        [post_entry(device, f"Pos {device}") for device in POSTS],
        offline_grace=1.0,
        offline_hold_after_connect=15.0,
    )
    posts = {device: make_post(device) for device in POSTS}
    service = hub.service
    assert service is not None
    online = lambda: all(service.registry.state(d).online for d in POSTS)  # noqa: E731
    wait_for(online, timeout=30, what="every post online at the hub")
    connects = service.mqtt.connects

    broker.stop()  # a clean stop: Mosquitto sends every post's Last Will (offline, retained) and keeps it
    broker.restart()
    wait_for(lambda: service.mqtt.connects > connects and service.mqtt.connected, timeout=30, what="hub reconnected")
    wait_for(online, timeout=60, what="every post back online")
    # The offline statuses the restart produced were held, then dropped because each post came back.
    wait_for(lambda: not service.offline_hold.pending(), timeout=60, what="the hold has nothing pending")
    assert service.offline_hold.released == 0
    assert offline_pages(sink) == []

    away = POSTS[0]
    posts[away].stop()  # this post really goes away (shut down), and stays away
    page = wait_for(lambda: offline_pages(sink, f"Pos {away}"), timeout=60, what="the offline page of the post away")
    assert len(page) == 1
    assert service.registry.state(away).online is False
    assert offline_pages(sink) == page  # the others were not paged
