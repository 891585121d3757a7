"""The demo: private broker, hub with dashboard/API, simulated posts, a notification inbox."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from edge.camera.config import CameraConfig
from hub.accounts.auth import new_token
from hub.provisioning.broker_files import new_secret
from hub.service import HubService
from hub.settings import HubSettings
from hub.web.app import create_app
from hub.web.server import WebServer
from kamling.runtime import termination_event
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink, Received
from poskamling.sim import SimControl, SimulatedPost, sim_edge_config

log = logging.getLogger(__name__)

DEMO_POSTS = [
    ("pos-rw01", "Pos Kamling RW 01 Sukamaju", "Sukamaju", -7.7956, 110.3695),
    ("pos-rw02", "Pos Kamling RW 02 Sukamaju", "Sukamaju", -7.7990, 110.3731),
    ("pos-rw05", "Pos Kamling RW 05 Mekarsari", "Mekarsari", -7.8032, 110.3650),
    ("pos-pasar", "Pos Kamling Pasar Mekarsari", "Mekarsari", -7.8071, 110.3702),
    ("pos-rw09", "Pos Kamling RW 09 Harjosari", "Harjosari", -7.8105, 110.3611),
]


DEMO_CAMERA_POST = "pos-rw05"
"""The third demo post watches a synthetic camera (a person crosses now and then)."""


def demo_camera() -> CameraConfig:
    """Cheap (2 analysed frames/s of 320x240) and quiet: motion alerts only at night, logged 'low' by day."""
    return CameraConfig(
        name="gerbang",
        source="synthetic:crossing:320x240",
        detect_fps=2,
        armed=[{"start": "22:00", "end": "05:00"}],
        outside_armed="log_low",
    )


@dataclass
class DemoOptions:
    workdir: Path
    posts: int = 3
    http_port: int = 8000


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.broker: MosquittoBroker | None = None
        self.hub: HubService | None = None
        self.web: WebServer | None = None
        self.sink: NotificationSink | None = None
        self.posts: dict[str, SimulatedPost] = {}
        self.control: SimControl | None = None
        self.operator_token = ""
        self.operator_password = ""

    def start(self) -> None:
        opts = self.options
        if opts.workdir.exists():
            shutil.rmtree(opts.workdir)  # fresh credentials and state every run
        opts.workdir.mkdir(parents=True)
        chosen = DEMO_POSTS[: max(1, min(opts.posts, len(DEMO_POSTS)))]
        passwords = {device: new_secret() for device, *_ in chosen}
        hub_password = new_secret()
        self.broker = MosquittoBroker(opts.workdir / "broker", accounts={"poskamling-hub": hub_password, **passwords})
        self.broker.start()

        self.sink = NotificationSink(on_receive=_print_notification)
        self.sink.start()
        self.operator_token, digest = new_token()
        settings = HubSettings(
            mqtt_host=self.broker.host,
            mqtt_port=self.broker.port,
            mqtt_password=hub_password,
            data_dir=opts.workdir / "hub",
            http_port=opts.http_port,
            public_url=f"http://127.0.0.1:{opts.http_port}",
            posts=[{"device_id": d, "name": n, "village": v, "lat": lat, "lon": lon} for d, n, v, lat, lon in chosen],
            officers=[
                {
                    "name": "Bripka Agus (Bhabinkamtibmas Sukamaju)",
                    "urls": [self.sink.url("agus")],
                    "villages": ["Sukamaju"],
                },
                {
                    "name": "Aipda Sari (Bhabinkamtibmas Mekarsari)",
                    "urls": [self.sink.url("sari")],
                    "villages": ["Mekarsari"],
                },
                # Escalation chain: unanswered after 60 s, the Kanit Binmas, then the Kapolsek.
                {
                    "name": "Iptu Hendra (Kanit Binmas)",
                    "urls": [self.sink.url("kanit")],
                    "level": 2,
                    "rank": "Kanit Binmas",
                },
                {"name": "AKP Wibowo (Kapolsek)", "urls": [self.sink.url("kapolsek")], "level": 3, "rank": "Kapolsek"},
            ],
            fallback_urls=[self.sink.url("piket")],
            api_tokens=[{"name": "demo-operator", "role": "operator", "sha256": digest}],
        )
        self.hub = HubService(settings)
        self.hub.start()
        self.operator_password = new_secret(12)
        self.hub.users.create("operator", self.operator_password, "operator")
        self.web = WebServer(create_app(self.hub), "127.0.0.1", opts.http_port)
        self.web.start()

        for device, *_ in chosen:
            config = sim_edge_config(
                device, self.broker.host, self.broker.port, passwords[device], opts.workdir / "posts" / device
            )
            if device == DEMO_CAMERA_POST:
                config = config.model_copy(update={"cameras": [demo_camera()]})
            post = SimulatedPost(config)
            post.start()
            self.posts[device] = post
        self.control = SimControl(opts.workdir / "sim.sock", self.posts)
        self.control.start()

    def stop(self) -> None:
        if self.control:
            self.control.stop()
        if self.web:
            self.web.stop()
        if self.hub:
            self.hub.stop()  # first, so that posts shutting down are not paged as offline
        for post in self.posts.values():
            post.stop()
        if self.sink:
            self.sink.stop()
        if self.broker:
            self.broker.stop()

    def banner(self) -> str:
        assert self.broker and self.web
        posts = "\n".join(
            f"    {d:<10} {p.config.device_id}"
            + "".join(f"  (camera {c.name}: synthetic, alerts 22:00-05:00)" for c in p.config.cameras)
            for d, p in self.posts.items()
        )
        return f"""
poskamling demo is running (Ctrl-C stops everything)

  Dashboard        {self.web.url}/      (Bahasa Indonesia; English via the EN switch)
  Dashboard login  user "operator", password {self.operator_password}   (random, this run only)
  Hub API + docs   {self.web.url}/docs      (OpenAPI, after logging in; health at {self.web.url}/api/health)
  Operator token   {self.operator_token}
                   e.g. curl -H 'Authorization: Bearer {self.operator_token}' {self.web.url}/api/alerts
  Broker           mosquitto on {self.broker.host}:{self.broker.port} (private config, random credentials)
  Simulated posts (mock GPIO pins):
{posts}

  Press a post's panic button from another terminal:
    .venv/bin/poskamling sim press {next(iter(self.posts))}
  Officers' phones are simulated: their notifications are printed here.
  Acknowledge on the dashboard, from the link in a notification, or:
    curl -X POST -H 'Authorization: Bearer {self.operator_token}' {self.web.url}/api/alerts/<id>/ack
"""


def _print_notification(item: Received) -> None:
    who = item.path.strip("/")
    title = item.body.get("title", "")
    message = item.body.get("message", "")
    print(f"\n[notification to {who}] {title}\n  " + message.replace("\n", "\n  "), flush=True)


def run_demo(options: DemoOptions) -> None:
    demo = Demo(options)
    stop = termination_event()
    try:
        demo.start()
        print(demo.banner(), flush=True)
        stop.wait()
    finally:
        print("stopping demo ...", flush=True)
        demo.stop()
