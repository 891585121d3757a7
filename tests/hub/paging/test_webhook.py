"""The webhook client against a real local HTTP(S) server: one connection for many pages, a
connection closed while idle replaced before the page, a dead kept-alive connection retried once,
timeouts and refusals reported, TLS verified; which URLs it takes."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hub.paging.notify import RecordingNotifier
from hub.paging.webhook import WebhookClient, WebhookNotifier, _dropped, webhook_request
from tests.support import wait_for


@dataclass
class Gateway:
    """A keep-alive HTTP/1.1 server that records each request with the client port it came from."""

    status: int = 200
    delay: float = 0.0
    drop_second_request_on_a_connection: bool = False
    close_after_each_answer: bool = False
    requests: list[tuple[int, str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str = "officer") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def connections(self) -> set[int]:
        return {client_port for client_port, *_ in self.requests}

    def start(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.served = 0

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.served += 1
                if gateway.drop_second_request_on_a_connection and self.served == 2:
                    self.close_connection = True  # as a gateway that timed the idle connection out
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                gateway.requests.append((self.client_address[1], self.path, json.loads(raw), dict(self.headers)))
                if gateway.delay:
                    time.sleep(gateway.delay)
                self.send_response(gateway.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if gateway.close_after_each_answer:
                    self.close_connection = True  # no "Connection: close": the client learns it from the socket

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    server.start()
    yield server
    server.stop()


def test_pages_share_one_kept_alive_connection(gateway: Gateway) -> None:
    notifier = WebhookNotifier(RecordingNotifier(succeed=False))
    for n in range(5):
        assert notifier.send([gateway.url()], f"PANIK {n}", "Pos RW 07")
    assert [body["title"] for _, _, body, _ in gateway.requests] == [f"PANIK {n}" for n in range(5)]
    assert len(gateway.connections()) == 1
    assert notifier.fallback.sent == []  # type: ignore[attr-defined]  # apprise never saw them


def test_the_page_apprise_would_send(gateway: Gateway) -> None:
    client = WebhookClient()
    request = webhook_request(f"json://agus:rahasia@127.0.0.1:{gateway.port}/hook", "PANIK", "isi")
    assert request is not None
    assert client.post(request) == (True, None, 200)
    _, path, body, headers = gateway.requests[0]
    assert path == "/hook"
    assert body == {"version": "1.0", "title": "PANIK", "message": "isi", "attachments": [], "type": "info"}
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Basic YWd1czpyYWhhc2lh"  # agus:rahasia


def test_a_dead_kept_alive_connection_is_retried_once_on_a_fresh_one(gateway: Gateway) -> None:
    gateway.drop_second_request_on_a_connection = True
    client = WebhookClient()
    notifier = WebhookNotifier(RecordingNotifier(), client)
    assert notifier.send([gateway.url()], "first", "isi")
    assert notifier.send([gateway.url()], "second", "isi")  # its first connection dies under it
    assert [body["title"] for _, _, body, _ in gateway.requests] == ["first", "second"]
    assert len(gateway.connections()) == 2
    assert client.retried == 1


def test_a_gateway_that_does_not_answer_in_time_is_a_failed_page_sent_once(gateway: Gateway) -> None:
    gateway.delay = 1.0
    client = WebhookClient(read_timeout=0.2)
    request = webhook_request(gateway.url(), "PANIK", "isi")
    assert request is not None
    assert client.post(request) == (False, "json: no answer in time", None)
    assert len(gateway.requests) == 1  # not sent twice: the gateway may have shown it
    assert client.retried == 0


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_a_refusal_fails_the_page(gateway: Gateway, status: int) -> None:
    gateway.status = status
    notifier = WebhookNotifier(RecordingNotifier())
    assert notifier.send([gateway.url()], "PANIK", "isi") is False
    assert len(gateway.requests) == 1


def test_nobody_listening_fails_the_page() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert WebhookNotifier(RecordingNotifier()).send([f"json://127.0.0.1:{port}/x"], "PANIK", "isi") is False


def test_failures_are_logged_without_the_secret(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    gateway.status = 500
    url = f"json://agus:SANGATRAHASIA@127.0.0.1:{gateway.port}/TOKENJALUR"
    with caplog.at_level(logging.DEBUG):
        assert WebhookNotifier(RecordingNotifier()).send([url], "PANIK", "isi") is False
    assert "json://…" in caplog.text
    assert "SANGATRAHASIA" not in caplog.text and "TOKENJALUR" not in caplog.text


def test_other_channels_go_to_apprise_and_every_url_must_accept(gateway: Gateway) -> None:
    fallback = RecordingNotifier()
    notifier = WebhookNotifier(fallback)
    mail = "mailtos://agus:pw@mail.example.org"
    assert notifier.send([gateway.url(), mail], "PANIK", "isi")
    assert fallback.sent == [([mail], "PANIK", "isi")]
    assert len(gateway.requests) == 1
    fallback.succeed = False
    assert notifier.send([gateway.url(), mail], "PANIK", "isi") is False
    assert len(gateway.requests) == 2  # the webhook still got its page


def test_a_call_with_attachments_goes_to_apprise_whole(gateway: Gateway) -> None:
    seen: list[dict[str, Any]] = []

    class Apprise:
        def send(self, urls: list[str], title: str, body: str, **extra: Any) -> bool:
            seen.append({"urls": urls, **extra})
            return True

    assert WebhookNotifier(Apprise()).send([gateway.url()], "PANIK", "isi", attachment="/tmp/a.jpg")
    assert seen == [{"urls": [gateway.url()], "attachment": "/tmp/a.jpg"}]  # the panic's picture (issue 15)
    assert gateway.requests == []


def test_which_urls_the_pool_takes() -> None:
    ntfy_cloud = webhook_request("ntfy://pos-sukamaju-7f3a", "PANIK", "isi")
    assert ntfy_cloud is not None and ntfy_cloud.url == "https://ntfy.sh"
    assert json.loads(ntfy_cloud.body) == {"topic": "pos-sukamaju-7f3a", "title": "PANIK", "message": "isi"}
    ntfy_own = webhook_request("ntfys://ntfy.polsek.example:8443/jaga", "PANIK", "isi")
    assert ntfy_own is not None and ntfy_own.url == "https://ntfy.polsek.example:8443"
    assert json.loads(ntfy_own.body)["topic"] == "jaga"

    telegram = webhook_request("tgram://123456:ABC-def_9/-100200300", "PANIK <RW 07>", "Pos & jalan")
    assert telegram is not None
    assert telegram.url == "https://api.telegram.org/bot123456:ABC-def_9/sendMessage"
    sent = json.loads(telegram.body)
    assert sent["chat_id"] == "-100200300" and sent["parse_mode"] == "HTML"
    assert sent["text"] == "<b>PANIK &lt;RW 07&gt;</b>\r\nPos &amp; jalan"

    secure = webhook_request("jsons://hooks.example.org/polsek", "t", "b")
    assert secure is not None and secure.url == "https://hooks.example.org/polsek"

    for left_to_apprise in (
        "json://example.org/hook?+X-Token=abc",  # headers, payload maps, methods: apprise's options
        "json://agus@example.org/hook",
        "ntfy://host/topic1/topic2",
        "ntfy://tk_abcdef@host/topic",
        "ntfy://pos-topic?priority=max",
        "tgram://123456:ABC/",  # no chat: apprise asks Telegram
        "tgram://123456:ABC/111/222",
        "tgram://not-a-token/111",
        "mailto://agus:pw@mail.example.org",
        "whatsapp://token@phone/628123",
        "json://example.org:notaport/x",
        "nonsense",
    ):
        assert webhook_request(left_to_apprise, "t", "b") is None, left_to_apprise


def test_a_connection_the_gateway_closed_while_idle_is_replaced_before_the_page(gateway: Gateway) -> None:
    gateway.close_after_each_answer = True  # closes without saying so, as an idle timeout does later
    client = WebhookClient()
    notifier = WebhookNotifier(RecordingNotifier(), client)
    assert notifier.send([gateway.url()], "first", "isi")
    kept = [conn for conns in client._idle.values() for conn in conns]
    assert len(kept) == 1
    wait_for(lambda: _dropped(kept[0]), what="the gateway's close reached the client")
    assert notifier.send([gateway.url()], "second", "isi")
    assert [body["title"] for _, _, body, _ in gateway.requests] == ["first", "second"]
    assert len(gateway.connections()) == 2
    assert client.retried == 0  # seen closed before sending: no page went into a dead connection


@pytest.fixture
def tls_gateway(tmp_path: Path) -> Iterator[tuple[Gateway, Path]]:
    """The gateway behind TLS with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = Gateway()
    server.start()
    assert server.server is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    yield server, cert
    server.stop()


def test_tls_pages_are_verified_and_kept_alive(tls_gateway: tuple[Gateway, Path]) -> None:
    gateway, cert = tls_gateway
    url = f"jsons://127.0.0.1:{gateway.port}/officer"
    # The default trust (certifi's CA bundle, as apprise used) refuses a certificate it cannot verify.
    assert WebhookNotifier(RecordingNotifier()).send([url], "PANIK", "isi") is False
    assert gateway.requests == []
    trusting = ssl.create_default_context(cafile=str(cert))
    notifier = WebhookNotifier(RecordingNotifier(), WebhookClient(tls=trusting))
    for n in range(3):
        assert notifier.send([url], f"PANIK {n}", "isi")
    assert len(gateway.requests) == 3 and len(gateway.connections()) == 1
