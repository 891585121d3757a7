"""A loopback TCP relay the tests can cut and restore: a network outage between post and broker.

`cut()` behaves like a dead 4G link, not a closed socket: bytes on open connections are
silently dropped (no FIN, no RST) and new connections are refused, so both sides only notice
through their MQTT keepalive. `restore()` drops the dead connections and relays again.
"""

from __future__ import annotations

import selectors
import socket
import threading


class TcpRelay:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(64)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._run, name="tcp-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()
        self._close_all()

    def cut(self) -> None:
        self._cut.set()

    def restore(self) -> None:
        self._close_all()  # connections that lived through the outage are dead for both ends
        self._cut.clear()

    @property
    def connections(self) -> int:
        return len(self._pairs) // 2

    def _close_all(self) -> None:
        with self._lock:
            for sock in list(self._pairs):
                try:
                    sock.close()
                except OSError:
                    pass
            self._pairs.clear()

    def _run(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            with self._lock:
                socks = [self._listener, *self._pairs]
            sel = selectors.DefaultSelector()
            for sock in socks:
                try:
                    sel.register(sock, selectors.EVENT_READ)
                except (ValueError, OSError):
                    pass
            try:
                ready = sel.select(timeout=0.05)
            finally:
                sel.close()
            for key, _ in ready:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                else:
                    self._forward(sock)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        if self._cut.is_set():
            client.close()  # no route: the post cannot reach the broker
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._pairs[client] = upstream
            self._pairs[upstream] = client

    def _forward(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            with self._lock:
                for s in (sock, peer):
                    self._pairs.pop(s, None)
                    s.close()
            return
        if self._cut.is_set():
            return  # the link is down: bytes vanish
        try:
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            with self._lock:
                for s in (sock, peer):
                    self._pairs.pop(s, None)
                    s.close()
