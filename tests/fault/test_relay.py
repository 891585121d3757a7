"""The fault relay's bad-link settings (issue 17 item 3): the schedule is checked with explicit times,
the relay itself by what arrives (intact and in order), never by how long it took."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.fault.relay import ShapedLink, Stalls, TcpRelay
from tests.support import wait_for


def test_rate_and_latency_schedule_one_shared_fifo() -> None:
    link = ShapedLink(64_000, 0.15, Stalls(None, 2.0, 0, 0.0), clock=lambda: 0.0)
    assert link.send(8000, 10.0) == pytest.approx(10.0 + 1.0 + 0.15)  # 8 KB at 64 kbit/s is one second
    assert link.queued(10.5) == pytest.approx(0.5)
    assert link.send(800, 10.5) == pytest.approx(11.0 + 0.1 + 0.15)  # behind the first, on the same link
    assert link.send(800, 20.0) == pytest.approx(20.1 + 0.15)  # an idle link starts at once


def test_a_stall_holds_what_would_cross_it_and_is_reproducible() -> None:
    stalls = Stalls(20.0, 2.0, seed=7, start=0.0)
    again = Stalls(20.0, 2.0, seed=7, start=0.0)
    starts = []
    t = 0.0
    while len(starts) < 50:
        if stalls.stalled(t):
            assert again.stalled(t)  # the same seed, the same bursts
            starts.append(t)
            t += 2.0
        t += 0.01
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert 10 < sum(gaps) / len(gaps) < 35  # about every 20 s (+2 s of stall), at random
    first = starts[0]
    link = ShapedLink(None, 0.0, Stalls(20.0, 2.0, seed=7, start=0.0), clock=lambda: 0.0)
    assert link.send(100, first + 0.5) == pytest.approx(first + 2.0, abs=0.02)  # waits for the burst to end
    rated = ShapedLink(8_000, 0.0, Stalls(20.0, 2.0, seed=7, start=0.0), clock=lambda: 0.0)
    assert rated.send(1000, first - 0.5) >= first + 2.0  # one second of sending cannot cross the burst


@pytest.fixture
def echo() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def test_a_shaped_relay_carries_every_byte_in_order_on_each_connection(echo: int) -> None:
    relay = TcpRelay("127.0.0.1", echo, latency=0.02, rate_bps=400_000, stall_every=0.5, stall_for=0.1, seed=3)
    relay.start()
    try:
        clients = [socket.create_connection(("127.0.0.1", relay.port)) for _ in range(2)]
        payloads = [bytes((i * 7 + n) % 256 for i in range(20_000)) for n in range(2)]
        received = [bytearray(), bytearray()]

        def read(n: int) -> None:
            clients[n].settimeout(30)
            while len(received[n]) < len(payloads[n]):
                chunk = clients[n].recv(65536)
                if not chunk:
                    return
                received[n] += chunk

        readers = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(2)]
        for n, reader in enumerate(readers):
            reader.start()
            clients[n].sendall(payloads[n])
        wait_for(lambda: all(len(r) == len(p) for r, p in zip(received, payloads, strict=True)), timeout=60)
        assert [bytes(r) for r in received] == payloads
        assert relay.up is not None and relay.up.bytes == 40_000  # one link shared by both connections
        assert relay.connections == 2
        for client in clients:
            client.close()
        wait_for(lambda: relay.connections == 0, what="closes relayed")
    finally:
        relay.stop()


def test_an_unshaped_relay_still_cuts_and_restores(echo: int) -> None:
    relay = TcpRelay("127.0.0.1", echo)
    relay.start()
    try:
        client = socket.create_connection(("127.0.0.1", relay.port))
        client.sendall(b"ping")
        client.settimeout(5)
        assert client.recv(16) == b"ping"
        relay.cut()
        with pytest.raises(OSError):
            refused = socket.create_connection(("127.0.0.1", relay.port), timeout=2)
            refused.settimeout(2)
            if not refused.recv(1):
                raise ConnectionResetError("closed at once: no route")
        relay.restore()
        client = socket.create_connection(("127.0.0.1", relay.port))
        client.sendall(b"pong")
        client.settimeout(5)
        assert client.recv(16) == b"pong"
    finally:
        relay.stop()
