"""Run a private Mosquitto broker from the project's config template (demo, tests, benchmarks)."""

from __future__ import annotations

import getpass
import logging
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

from hub.provisioning.broker_files import hash_password, render_acl, render_password_file, write_private
from kamling.protocol import alarm_user
from poskamling.net import free_port, wait_for_port

log = logging.getLogger(__name__)


MAX_QUEUED_MESSAGES = 2_000
"""Default per-client queue limit (see MosquittoBroker.max_queued_messages)."""


class BrokerError(RuntimeError):
    """The broker could not be started or controlled."""


def find_mosquitto() -> str:
    """Path of the mosquitto binary, or BrokerError with how to install it."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if not found:
        raise BrokerError(
            "mosquitto not found: install it with `sudo apt-get install mosquitto` (or run scripts/bootstrap)"
        )
    return found


@dataclass
class TlsListener:
    """An extra TLS listener; clients must present a certificate when require_certificate."""

    port: int
    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False

    def render(self, bind: str, username_as_clientid: bool = True) -> str:
        return "\n".join(
            [
                f"listener {self.port} {bind}",
                f"cafile {self.cafile}",
                f"certfile {self.certfile}",
                f"keyfile {self.keyfile}",
                f"require_certificate {'true' if self.require_certificate else 'false'}",
                "tls_version tlsv1.2",
                f"use_username_as_clientid {'true' if username_as_clientid else 'false'}",
            ]
        )


def render_config(
    *,
    port: int,
    bind: str,
    password_file: Path,
    acl_file: Path,
    persistence_dir: Path,
    log_dest: str,
    autosave_interval: int = 100,
    max_queued_messages: int = MAX_QUEUED_MESSAGES,
    max_queued_bytes: int = 0,
    max_inflight_messages: int = 1000,
    tls: TlsListener | None = None,
    run_as: str | None = None,
    username_as_clientid: bool = True,
) -> str:
    template = Template(resources.files("poskamling").joinpath("templates/mosquitto.conf.template").read_text())
    return template.substitute(
        port=port,
        bind=bind,
        password_file=password_file,
        acl_file=acl_file,
        persistence_dir=persistence_dir,
        log_dest=log_dest,
        autosave_interval=autosave_interval,
        max_queued_messages=max_queued_messages,
        max_queued_bytes=max_queued_bytes,
        max_inflight_messages=max_inflight_messages,
        tls_listener=tls.render(bind, username_as_clientid) if tls else "",
        run_as=run_as or getpass.getuser(),
        username_as_clientid="true" if username_as_clientid else "false",
    )


@dataclass
class MosquittoBroker:
    """A Mosquitto process with its own folder, config, credentials and ACL."""

    workdir: Path
    accounts: dict[str, str] = field(default_factory=dict)
    hub_users: list[str] = field(default_factory=lambda: ["poskamling-hub"])
    monitor_users: list[str] = field(default_factory=list)  # read-only on kamling/v1/# (diagnostics, tests)
    home_assistant_prefix: str | None = None  # hub users may write <prefix>/# (HA discovery), off by default
    port: int = 0
    bind: str = "127.0.0.1"
    tls: TlsListener | None = None
    username_as_clientid: bool = True  # production setting; False only for raw-MQTT benchmarks
    # Per-client queue beyond the in-flight window (Mosquitto counts QoS 0 packets waiting on an
    # online client's socket against it too). Small on purpose: a flooding device must not build a
    # long backlog in front of the hub; an event the broker drops stays in its post's outbox and is
    # resent (bench/bench_flood.py, docs/security.md).
    max_queued_messages: int = MAX_QUEUED_MESSAGES
    max_queued_bytes: int = 0  # 0: no byte limit (the message count bounds the queue)
    alarm_sessions: bool = True  # each hub account gets its `<user>-alarm` account (False: as before issue 17)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return self.bind

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_files(self) -> None:
        """(Re)write config, password file and ACL from the current accounts."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        if not self.port:
            self.port = free_port(self.bind)
        hashed = {user: hash_password(password) for user, password in self.accounts.items()}
        # Each hub account's alarm session logs in as `<user>-alarm` with the same password, as
        # provisioning sets it up (kamling.protocol.alarm_user).
        alarms = {alarm_user(u): hashed[u] for u in self.hub_users if u in hashed} if self.alarm_sessions else {}
        hashed = {**alarms, **hashed}
        write_private(self.workdir / "passwd", render_password_file(hashed))
        hub_users = [*self.hub_users, *(user for user in alarms if user not in self.hub_users)]
        write_private(self.workdir / "acl", render_acl(hub_users, self.monitor_users, self.home_assistant_prefix))
        conf = render_config(
            port=self.port,
            bind=self.bind,
            password_file=self.workdir / "passwd",
            acl_file=self.workdir / "acl",
            persistence_dir=self.workdir / "data",
            log_dest=f"file {self.log_path}",
            tls=self.tls,
            username_as_clientid=self.username_as_clientid,
            max_queued_messages=self.max_queued_messages,
            max_queued_bytes=self.max_queued_bytes,
        )
        write_private(self.config_path, conf)

    def start(self, timeout: float = 10.0) -> None:
        self.write_files()
        self._process = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Not in the terminal's process group: a Ctrl-C must reach only our own process, which
            # stops the hub before the broker (a broker that dies first sends every post's Last
            # Will, and the hub pages "POS TERPUTUS" for posts that are merely shutting down).
            start_new_session=True,
        )
        if not wait_for_port(self.bind, self.port, timeout):
            self.kill()
            raise BrokerError(f"mosquitto did not listen on {self.bind}:{self.port}: {self.recent_log()}")
        log.info("mosquitto listening on %s:%s (pid %s)", self.bind, self.port, self._process.pid)

    def restart(self, timeout: float = 10.0) -> None:
        """Start again on the same port with the same persistence folder (after stop() or kill())."""
        if self.running:
            raise BrokerError("broker is still running: stop() or kill() it first")
        if not self.port:
            raise BrokerError("restart() needs a broker that was started before (no port yet)")
        self.start(timeout)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def recent_log(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        if self._process and self._process.poll() is not None and self._process.stderr:
            text += self._process.stderr.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def reload(self) -> None:
        """Re-read password file and ACL (SIGHUP), e.g. after adding or revoking a device."""
        self.write_files()
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGHUP)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """SIGKILL: a crash or power cut of the broker."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
