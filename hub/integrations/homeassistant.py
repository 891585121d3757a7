"""Home Assistant bridge: the hub announces every post to Home Assistant by MQTT discovery.

Optional and off by default (setting `home_assistant_discovery`). The hub publishes, because
it has the broad broker rights: the ACL gives hub users `topic write <prefix>/#` only when
enabled (kamling.broker_files.render_acl(home_assistant_prefix=...)). Home Assistant then
reads each post's panic (event topic), motion and online state straight from the broker,
which needs a read-only broker user for Home Assistant (a monitor user).

Messages are built by edge/homeassistant.discovery_messages (pure) and sent retained, QoS 1
(paho queues QoS 1 publishes until the session is up).

The set of posts changes while the hub runs (`poskamling device add/revoke`, followed by
hub.devices.DeviceSync). The bridge keeps what it has announced (config topic -> payload) and
reconciles at start and on every change DeviceSync reports: configs that are new or differ (a
renamed post) are published, and the configs of posts that are gone are cleared with an empty
retained payload, which makes Home Assistant delete the entity and the broker drop the
retained message. What to send is worked out by two pure functions, `discovery_configs` and
`discovery_changes`.

What the bridge knows is what it announced since the hub started: a post that disappears
while the hub is down (revoked, or taken out of the settings file) keeps its entities until
they are removed by hand (publish an empty retained payload to each of its config topics).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from hub.integrations.homeassistant_discovery import discovery_messages
from hub.settings import HubSettings, PostSettings

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int, bool], None]  # topic, payload, qos, retain
Cameras = Callable[[str], Sequence[str]]  # device id -> its camera names
Subscribe = Callable[[Callable[[object], None]], Callable[[], None]]  # listener -> unsubscribe
"""How the bridge hears that the set of posts changed (hub.devices.DeviceSync.on_change)."""

Configs = dict[str, bytes]  # discovery config topic -> retained payload
CLEARED = b""  # an empty retained payload on a config topic deletes the entity in Home Assistant


@dataclass(frozen=True)
class DiscoveryChanges:
    """What to send to turn the announced configs into the wanted ones."""

    publish: Configs = field(default_factory=dict)  # new or changed configs
    clear: list[str] = field(default_factory=list)  # config topics no post needs any more

    def __bool__(self) -> bool:
        return bool(self.publish or self.clear)


def discovery_configs(
    posts: Sequence[PostSettings],
    cameras: Cameras = lambda _device: (),
    *,
    prefix: str,
    version: str | None = None,
) -> tuple[Configs, dict[str, str]]:
    """The discovery configs the posts need, and the posts that cannot be announced (device id -> why)."""
    configs: Configs = {}
    failed: dict[str, str] = {}
    for post in posts:
        try:
            messages = discovery_messages(
                post.device_id, post.name, cameras(post.device_id), version=version, prefix=prefix
            )
        except ValueError as exc:
            failed[post.device_id] = str(exc)
            continue
        configs.update((message.topic, message.payload_bytes()) for message in messages)
    return configs, failed


def discovery_changes(announced: Mapping[str, bytes], wanted: Mapping[str, bytes]) -> DiscoveryChanges:
    """Publish what is new or different; clear what was announced and is no longer wanted."""
    return DiscoveryChanges(
        publish={t: payload for t, payload in sorted(wanted.items()) if announced.get(t) != payload},
        clear=sorted(t for t in announced if t not in wanted),
    )


class HomeAssistantBridge:
    def __init__(
        self,
        settings: HubSettings,
        posts: Callable[[], Sequence[PostSettings]],
        publish: Publish,
        cameras: Cameras = lambda _device: (),
        version: str | None = None,
        subscribe: Subscribe | None = None,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.publish = publish
        self.cameras = cameras
        self.version = version
        self.subscribe = subscribe
        self.announced: Configs = {}
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.home_assistant_discovery

    def start(self) -> None:
        if not self.enabled:
            return
        if self.subscribe is not None:  # first: a change during the first reconcile is not missed
            self._unsubscribe = self.subscribe(self._posts_changed)
        self.reconcile()

    def stop(self) -> None:
        """Stop following changes. Configs stay retained so HA keeps the entities across restarts."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def reconcile(self) -> int:
        """Bring Home Assistant in line with the posts; how many configs were published or cleared."""
        with self._lock:  # DeviceSync's thread, the API's reload and start() may all get here
            posts = self.posts()
            wanted, failed = discovery_configs(
                posts, self.cameras, prefix=self.settings.home_assistant_prefix, version=self.version
            )
            for device_id, why in failed.items():
                log.error("home assistant: cannot announce %s: %s", device_id, why)
            changes = discovery_changes(self.announced, wanted)
            for topic, payload in changes.publish.items():
                self.publish(topic, payload, 1, True)
                self.announced[topic] = payload
            for topic in changes.clear:
                self.publish(topic, CLEARED, 1, True)
                del self.announced[topic]
            if changes:
                log.info(
                    "home assistant: published %d and cleared %d entity configs (%d posts)",
                    len(changes.publish),
                    len(changes.clear),
                    len(posts),
                )
            return len(changes.publish) + len(changes.clear)

    def _posts_changed(self, _change: object) -> None:
        try:
            self.reconcile()
        except Exception:
            log.exception("home assistant: cannot follow the change of posts")
