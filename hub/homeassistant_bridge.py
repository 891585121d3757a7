"""Home Assistant bridge: the hub announces every post to Home Assistant by MQTT discovery.

Optional and off by default (setting `home_assistant_discovery`). The hub publishes, because
it has the broad broker rights: the ACL gives hub users `topic write <prefix>/#` only when
enabled (kamling.broker_files.render_acl(home_assistant_prefix=...)). Home Assistant then
reads each post's panic (event topic), motion and online state straight from the broker,
which needs a read-only broker user for Home Assistant (a monitor user).

Messages are built by edge/homeassistant.discovery_messages (pure) and sent retained, QoS 1,
at start (paho queues QoS 1 publishes until the session is up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from edge.homeassistant import discovery_messages
from hub.settings import HubSettings, PostSettings

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int, bool], None]  # topic, payload, qos, retain


class HomeAssistantBridge:
    def __init__(
        self,
        settings: HubSettings,
        posts: Callable[[], Sequence[PostSettings]],
        publish: Publish,
        cameras: Callable[[str], Sequence[str]] = lambda _device: (),
        version: str | None = None,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.publish = publish
        self.cameras = cameras
        self.version = version
        self.announced: list[str] = []

    @property
    def enabled(self) -> bool:
        return self.settings.home_assistant_discovery

    def start(self) -> None:
        if self.enabled:
            self.announce_all()

    def stop(self) -> None:
        """Nothing to undo: discovery configs stay retained so HA keeps the entities across restarts."""

    def announce_all(self) -> int:
        count = 0
        for post in self.posts():
            try:
                messages = discovery_messages(
                    post.device_id,
                    post.name,
                    self.cameras(post.device_id),
                    version=self.version,
                    prefix=self.settings.home_assistant_prefix,
                )
            except ValueError as exc:
                log.error("home assistant: cannot announce %s: %s", post.device_id, exc)
                continue
            for message in messages:
                self.publish(message.topic, message.payload_bytes(), 1, message.retain)
                self.announced.append(message.topic)
                count += 1
        log.info("home assistant: announced %d entities of %d posts", count, len(self.posts()))
        return count
