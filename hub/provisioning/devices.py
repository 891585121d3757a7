"""Provisioned devices: a small TinyDB file in the hub's data folder, written by
`poskamling device ...` and followed by the running hub.

How a running hub picks up additions and revocations: `DeviceSync` checks the file's
modification time every `interval` seconds (default 2 s) and on demand
(`POST /api/admin/devices/reload`), then adds active devices to the post registry and removes
decommissioned ones. Posts in the hub settings file are merged in at start; a device revoked
here is removed even if the settings file still lists it (revocation wins). Whoever must follow
the set of posts (the Home Assistant bridge) registers with `DeviceSync.on_change`.

A damaged devices file (zero-length, truncated) is set aside, reported in `DeviceStore.damaged`
(hub.storage.files, shown in /api/health) and read as no devices. The hub still starts: the
posts it already knows stay registered and those in the settings file are known, but a
provisioned post missing from the registry after a restart has its events refused as
unknown until the file is restored (its outbox keeps them) - hence the loud report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from tinydb import Query

from hub.posts.registry import PostRegistry
from hub.settings import PostSettings
from hub.storage.files import open_checked
from kamling.protocol import DEVICE_ID_PATTERN, utc_now

log = logging.getLogger(__name__)

DeviceStatus = Literal["active", "decommissioned"]


class CameraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="camera id at the post"
    )
    description: str = Field(default="", max_length=200, description="where it looks, for people")


class DeviceRecord(BaseModel):
    """One provisioned post device. Never holds a secret: the broker keeps only a hash."""

    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    village: str = Field(default="", max_length=120)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    cameras: list[CameraEntry] = Field(default_factory=list)
    status: DeviceStatus = "active"
    created_at: str = ""
    credential_issued_at: str = ""
    revoked_at: str | None = None
    client_cert_serial: str | None = None

    def post(self) -> PostSettings:
        return PostSettings(device_id=self.device_id, name=self.name, village=self.village, lat=self.lat, lon=self.lon)


class DeviceStore:
    """Opens the file per operation: the CLI and the hub are different processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damaged: list[str] = []  # damaged files found and set aside (shown in /api/health)

    def _table(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return open_checked(self.path, self.damaged, "devices")

    def all(self) -> list[DeviceRecord]:
        if not self.path.exists():
            return []
        db = self._table()
        try:
            return sorted(
                (DeviceRecord.model_validate(r) for r in db.table("devices").all()), key=lambda d: d.device_id
            )
        finally:
            db.close()

    def get(self, device_id: str) -> DeviceRecord | None:
        return next((d for d in self.all() if d.device_id == device_id), None)

    def put(self, record: DeviceRecord) -> None:
        db = self._table()
        try:
            db.table("devices").upsert(record.model_dump(mode="json"), Query().device_id == record.device_id)
        finally:
            db.close()

    def mark_decommissioned(self, device_id: str) -> DeviceRecord:
        record = self.get(device_id)
        if record is None:
            raise KeyError(device_id)
        record = record.model_copy(update={"status": "decommissioned", "revoked_at": utc_now().isoformat()})
        self.put(record)
        return record


@dataclass
class SyncResult:
    added: list[str]  # new or changed (a rename is a change)
    removed: list[str]


ChangeListener = Callable[[SyncResult], None]


class DeviceSync:
    """Keeps a PostRegistry in step with the devices file (start/stop a polling thread)."""

    def __init__(self, store: DeviceStore, registry: PostRegistry, interval: float = 2.0) -> None:
        self.store = store
        self.registry = registry
        self.interval = interval
        self._mtime: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._listeners: list[ChangeListener] = []

    def on_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call `listener` after each sync that changed the registry; returns the unsubscribe callable."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def sync(self, force: bool = False) -> SyncResult:
        result = self._sync(force)
        if result.added or result.removed:
            for listener in list(self._listeners):
                try:
                    listener(result)
                except Exception:  # a listener's failure must not stop the sync or the other listeners
                    log.exception("devices: change listener %r failed", listener)
        return result

    def _sync(self, force: bool) -> SyncResult:
        with self._lock:
            try:
                mtime = self.store.path.stat().st_mtime_ns if self.store.path.exists() else None
            except OSError:
                mtime = None
            if not force and mtime == self._mtime:
                return SyncResult([], [])
            self._mtime = mtime
            added, removed = [], []
            try:
                records = self.store.all()
            except Exception:  # a damaged file must not stop the hub; keep the registry as is
                log.exception("devices: cannot read %s; registry unchanged", self.store.path)
                return SyncResult([], [])
            for record in records:
                known = self.registry.get(record.device_id)
                if record.status == "active":
                    if known != record.post():
                        self.registry.add(record.post())
                        added.append(record.device_id)
                elif known is not None:
                    self.registry.remove(record.device_id)
                    removed.append(record.device_id)
            if added or removed:
                log.warning("devices: added %s, decommissioned %s", added, removed)
            return SyncResult(added, removed)

    def start(self) -> None:
        self.sync(force=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="device-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception:
                log.exception("devices: sync failed")
