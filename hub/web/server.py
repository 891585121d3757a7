"""Run the FastAPI app with uvicorn on a background thread (hub command, demo, tests)."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI


class WebServer:
    def __init__(self, app: FastAPI, host: str, port: int, log_level: str = "warning") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            lifespan="off",
            timeout_graceful_shutdown=2,  # open dashboard streams (SSE) never finish by themselves
        )
        self._server = uvicorn.Server(config)  # on a worker thread uvicorn leaves signal handling to us
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"web server could not start on {self.host}:{self.port} (port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"web server did not start on {self.host}:{self.port} within {timeout}s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
