"""A loopback TCP relay the tests can cut and restore, and shape like a bad GSM link.

`cut()` behaves like a dead 4G link, not a closed socket: bytes on open connections are
silently dropped (no FIN, no RST) and new connections are refused, so both sides only notice
through their MQTT keepalive. `restore()` drops the dead connections and relays again.

Shaping (issue 17 item 3), all off by default:
- `latency`: seconds added to every byte, each way (150 ms each way: a 300 ms round trip);
- `rate_bps`: one link's capacity in bits per second, each direction shared by all of the relay's
  connections (a post's MQTT session and anything else it opens use the same radio). The relay
  reads from a socket only while that direction's queue is short, so a sender feels back-pressure
  in its own socket buffer, as behind a real modem;
- `stall_every` / `stall_for`: the link stops moving bytes for `stall_for` seconds, at random
  (exponential gaps, mean `stall_every` seconds, from `seed`): a GSM loss burst. Nothing is lost
  (TCP retransmits under it); both directions wait.
"""

from __future__ import annotations

import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable

QUEUE_SECONDS = 0.25
"""A direction stops reading its sockets while this much transmit time is already queued on it."""
SEGMENT = 1460  # bytes read at once from a socket when the link is shaped (one TCP segment)


class Stalls:
    """Random stall windows, generated forward from a seed; shared by both directions of a link."""

    def __init__(self, every: float | None, duration: float, seed: int, start: float) -> None:
        self.every = every
        self.duration = duration
        self._rng = random.Random(seed)
        self._windows: list[tuple[float, float]] = []
        self._next_start = start + self._gap() if every else float("inf")

    def _gap(self) -> float:
        assert self.every
        return self._rng.expovariate(1.0 / self.every)

    def _upto(self, t: float) -> None:
        while self._next_start <= t:
            start = self._next_start
            self._windows.append((start, start + self.duration))
            self._next_start = start + self.duration + self._gap()

    def push(self, t: float, transmit: float) -> float:
        """When a transmission of `transmit` seconds wanting to start at `t` can start without a stall in it."""
        if not self.every:
            return t
        moved = True
        while moved:
            moved = False
            self._upto(t + transmit)
            for start, end in self._windows:
                if start < t + transmit and end > t and end > start:
                    t, moved = end, True
        self._windows = [w for w in self._windows if w[1] > t - 60]  # old windows are never asked again
        return t

    def stalled(self, t: float) -> bool:
        self._upto(t)
        return any(start <= t < end for start, end in self._windows)


class ShapedLink:
    """One direction of the link: a FIFO through a pipe of `rate_bps`, then `latency` seconds of flight."""

    def __init__(self, rate_bps: float | None, latency: float, stalls: Stalls, clock: Callable[[], float]) -> None:
        self.rate_bps = rate_bps
        self.latency = latency
        self.stalls = stalls
        self.clock = clock
        self.free_at = 0.0  # when the last queued byte has left the sender
        self.bytes = 0

    def queued(self, now: float) -> float:
        """Seconds of transmission already waiting on this direction."""
        return max(0.0, self.free_at - now)

    def send(self, nbytes: int, now: float) -> float:
        """Queue `nbytes`; returns when they arrive at the far end."""
        transmit = nbytes * 8 / self.rate_bps if self.rate_bps else 0.0
        start = self.stalls.push(max(now, self.free_at), transmit)
        self.free_at = start + transmit
        self.bytes += nbytes
        return self.free_at + self.latency


class TcpRelay:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        host: str = "127.0.0.1",
        *,
        latency: float = 0.0,
        rate_bps: float | None = None,
        stall_every: float | None = None,
        stall_for: float = 2.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.latency = latency
        self.rate_bps = rate_bps
        self.stall_every = stall_every
        self.stall_for = stall_for
        self.seed = seed
        self.clock = clock
        self.up: ShapedLink | None = None  # client -> target
        self.down: ShapedLink | None = None  # target -> client
        self._listener: socket.socket | None = None
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._upstream: set[socket.socket] = set()  # the target side of each pair
        self._due: list[tuple[float, int, socket.socket, bytes]] = []  # (arrival, order, to, data); b"": close
        self._order = itertools.count()
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def shaped(self) -> bool:
        return bool(self.latency or self.rate_bps or self.stall_every)

    def start(self) -> None:
        stalls = Stalls(self.stall_every, self.stall_for, self.seed, self.clock())
        self.up = ShapedLink(self.rate_bps, self.latency, stalls, self.clock)
        self.down = ShapedLink(self.rate_bps, self.latency, stalls, self.clock)
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

    def stalled(self) -> bool:
        """Whether the link is in a loss burst now (for benchmarks that report what a press met)."""
        return self.up is not None and self.up.stalls.stalled(self.clock())

    def _close_all(self) -> None:
        with self._lock:
            for sock in list(self._pairs):
                try:
                    sock.close()
                except OSError:
                    pass
            self._pairs.clear()
            self._upstream.clear()
            self._due.clear()

    def _link_of(self, sock: socket.socket) -> ShapedLink:
        """The direction bytes read from `sock` travel."""
        assert self.up is not None and self.down is not None
        return self.down if sock in self._upstream else self.up

    def _run(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            now = self.clock()
            with self._lock:
                socks = [s for s in self._pairs if self._link_of(s).queued(now) < QUEUE_SECONDS]
                next_due = self._due[0][0] if self._due else None
            timeout = 0.05 if next_due is None else min(0.05, max(0.0, next_due - now))
            sel = selectors.DefaultSelector()
            for sock in [self._listener, *socks]:
                try:
                    sel.register(sock, selectors.EVENT_READ)
                except (ValueError, OSError):
                    pass
            try:
                ready = sel.select(timeout=timeout)
            finally:
                sel.close()
            for key, _ in ready:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                else:
                    self._forward(sock)
            self._deliver_due()

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
            self._upstream.add(upstream)

    def _forward(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(SEGMENT if self.shaped else 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if self._cut.is_set() and data:
            return  # the link is down: bytes vanish
        with self._lock:
            if sock not in self._pairs:
                return
            link = self._link_of(sock)
            if self.shaped:
                arrival = link.send(len(data), self.clock())
            else:
                arrival, link.bytes = 0.0, link.bytes + len(data)
            heapq.heappush(self._due, (arrival, next(self._order), peer, data))
            if not data:  # EOF: the peer is closed once what was read before has arrived
                self._pairs.pop(sock, None)
                self._upstream.discard(sock)

    def _deliver_due(self) -> None:
        now = self.clock()
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > now:
                    return
                _, _, peer, data = heapq.heappop(self._due)
            if not data:
                self._drop(peer)
                continue
            try:
                peer.setblocking(True)
                peer.sendall(data)
                peer.setblocking(False)
            except OSError:
                self._drop(peer)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.pop(sock, None)
            self._upstream.discard(sock)
            if peer is not None:
                self._pairs.pop(peer, None)
                self._upstream.discard(peer)
            for s in (sock, peer):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
