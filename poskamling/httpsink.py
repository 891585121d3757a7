"""A local HTTP endpoint that collects JSON notifications (apprise `json://` URLs).

The demo uses it as the officers' phone; the tests use it to see what an officer receives.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    at: float  # time.monotonic()


class NotificationSink:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, on_receive: Callable[[Received], None] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.on_receive = on_receive
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "officer") -> str:
        """An apprise URL that posts JSON to this sink under /<path>."""
        return f"json://{self.host}:{self.port}/{path}"

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real gateways (the pager reuses connections)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"raw": raw.decode(errors="replace")}
                item = Received(self.path, body if isinstance(body, dict) else {"value": body}, time.monotonic())
                with sink._cond:
                    sink.received.append(item)
                    sink._cond.notify_all()
                if sink.on_receive:
                    sink.on_receive(item)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="notification-sink", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float) -> Received | None:
        """The first received notification matching predicate, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)


def main() -> None:
    """Run a sink in its own process: prints its port, then one JSON line per notification received."""

    def report(item: Received) -> None:
        sys.stdout.write(json.dumps({"path": item.path, "at": item.at, "body": item.body}) + "\n")
        sys.stdout.flush()

    sink = NotificationSink(on_receive=report)
    sink.start()
    sys.stdout.write(f"{sink.port}\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the parent closes our stdin
    sink.stop()


if __name__ == "__main__":
    main()
