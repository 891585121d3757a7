"""Webhook-style pages on one pooled keep-alive HTTP client; apprise for every other channel.

apprise builds a `requests` call per page and opens a fresh connection for it: on this machine
about 1.7 ms over a bare POST, and over a phone link a TCP (and TLS) handshake per page. The
channels that are one JSON POST (apprise's `json://`/`jsons://` webhooks, ntfy, Telegram's bot API)
are sent here instead, on `http.client` connections kept open between pages, per gateway.

* `webhook_request(url, title, body)` (pure) turns a contact URL into the HTTP request apprise
  would send, or None when the URL uses anything this module does not reproduce (query options,
  several targets, token auth, ...): such URLs stay with apprise, unchanged.
* `WebhookClient` sends one request: kept-alive connections per gateway, apprise's timeouts and
  TLS verification, one immediate retry on a fresh connection when a kept one turns out to be
  dead (the gateway closed it while idle), none after a timeout.
* `WebhookNotifier` is the `Notifier` the pager worker uses: webhook URLs through the client,
  the rest through apprise; True only when every URL accepted the page (as before).

Secrets: a contact URL carries its secret anywhere after the scheme (the bot token is in
Telegram's request path), so nothing here logs a URL or a request line except through
`redact_url` (http.client prints nothing unless its debuglevel is raised, which nothing here does).
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import logging
import re
import select
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from hub.paging.notify import Notifier, send_page
from kamling.redact import redact_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 4.0
READ_TIMEOUT = 4.0
"""apprise's own defaults (socket_connect_timeout, socket_read_timeout): same patience per page."""
POOL_CONNECTIONS = 4
"""Connections kept open per gateway host (more are opened when pages overlap, then closed)."""
USER_AGENT = "Apprise"  # what the gateways saw from apprise; a gateway may filter on it

NTFY_CLOUD = "https://ntfy.sh"
TELEGRAM_API = "https://api.telegram.org"
_TELEGRAM_TOKEN = re.compile(r"^(?:bot)?(\d+:[A-Za-z0-9_-]+)$")
_TELEGRAM_CHAT = re.compile(r"^(?:-?\d+|@[A-Za-z0-9_]{4,})$")
_NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")


@dataclass(frozen=True)
class WebhookRequest:
    """One POST. `url` holds secrets (never log it); `channel` is what logs may show."""

    url: str
    headers: dict[str, str] = field(hash=False)
    body: bytes
    channel: str


def webhook_request(url: str, title: str, body: str) -> WebhookRequest | None:
    """The request apprise would send for `url`, or None: leave the URL to apprise."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return None
    scheme = scheme.lower()
    try:
        if scheme in ("json", "jsons"):
            return _json_request(scheme, rest, title, body)
        if scheme in ("ntfy", "ntfys"):
            return _ntfy_request(scheme, rest, title, body)
        if scheme in ("tgram", "telegram"):
            return _telegram_request(rest, title, body)
    except ValueError:  # a malformed port, ...: apprise decides (and logs it redacted)
        return None
    return None


def _plain(rest: str) -> tuple[str | None, str | None, str, int | None, str] | None:
    """(user, password, host, port, path) of `rest` when it has no query or fragment, else None."""
    if "?" in rest or "#" in rest:
        return None
    parts = urlsplit(f"http://{rest}")
    if not parts.hostname:
        return None
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return user, password, parts.hostname, parts.port, parts.path


def _origin(secure: bool, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if secure else 'http'}://{shown}{f':{port}' if port else ''}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _json_headers() -> dict[str, str]:
    return {"User-Agent": USER_AGENT, "Content-Type": "application/json"}


def _json_request(scheme: str, rest: str, title: str, body: str) -> WebhookRequest | None:
    """apprise's custom JSON: {"version", "title", "message", "attachments", "type"} POSTed to the URL."""
    parsed = _plain(rest)
    if parsed is None:
        return None
    user, password, host, port, path = parsed
    headers = _json_headers()
    if user is not None:
        if password is None:
            return None  # apprise's handling of a user without a password is its own
        headers["Authorization"] = _basic(user, password)
    payload = {"version": "1.0", "title": title, "message": body, "attachments": [], "type": "info"}
    return WebhookRequest(
        _origin(scheme == "jsons", host, port) + (path or "/"),
        headers,
        json.dumps(payload).encode(),
        scheme,
    )


def _ntfy_request(scheme: str, rest: str, title: str, body: str) -> WebhookRequest | None:
    """ntfy's JSON publish: {"topic", "title", "message"} to the server's root.

    `ntfy://TOPIC` is the cloud service (always https://ntfy.sh); `ntfy://HOST/TOPIC` and
    `ntfys://HOST/TOPIC` a server of one's own, as apprise reads them."""
    parsed = _plain(rest)
    if parsed is None:
        return None
    user, password, host, port, path = parsed
    topics = [part for part in path.split("/") if part]
    headers = _json_headers()
    if not topics:  # cloud: the "host" is the topic
        if user is not None or port is not None or host.lower() == "ntfy.sh":
            return None
        origin, topic = NTFY_CLOUD, rest.rstrip("/")
    elif len(topics) == 1:
        origin, topic = _origin(scheme == "ntfys", host, port), unquote(topics[0])
        if user is not None:
            if not password:
                return None  # a token (tk_...) or a user alone: apprise's detection rules
            headers["Authorization"] = _basic(user, password)
    else:
        return None  # several topics: apprise sends one request each
    if not _NTFY_TOPIC.match(topic):
        return None
    payload = {"topic": topic, "title": title, "message": body}
    return WebhookRequest(origin, headers, json.dumps(payload).encode(), scheme)


def _telegram_request(rest: str, title: str, body: str) -> WebhookRequest | None:
    """The bot API's sendMessage to one chat, in HTML as apprise sends it (bold title, then the body)."""
    if "?" in rest or "#" in rest:
        return None
    parts = [part for part in rest.split("/") if part]
    if len(parts) != 2:
        return None  # no chat (apprise asks Telegram for one) or several chats
    token_match, chat = _TELEGRAM_TOKEN.match(parts[0]), unquote(parts[1])
    if token_match is None or not _TELEGRAM_CHAT.match(chat):
        return None
    text = f"<b>{html.escape(title, quote=False)}</b>\r\n{html.escape(body, quote=False)}" if title else body
    payload = {
        "chat_id": chat,
        "text": text,
        "parse_mode": "HTML",
        "disable_notification": False,
        "disable_web_page_preview": True,
    }
    return WebhookRequest(
        f"{TELEGRAM_API}/bot{token_match.group(1)}/sendMessage", _json_headers(), json.dumps(payload).encode(), "tgram"
    )


class WebhookClient:
    """Keep-alive HTTP(S) connections per gateway (scheme, host, port), shared by every page of the process.

    Plain `http.client`: on this machine about 0.35 ms less per page than urllib3's pool on a
    kept-alive connection, which is most of what a page costs once its connection is open. A kept
    connection is checked before use (a gateway that closed it while idle leaves it readable: EOF);
    a page that still fails on one is sent once more on a fresh connection.
    """

    def __init__(
        self,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        per_host: int = POOL_CONNECTIONS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.per_host = per_host
        self.retried = 0  # pages resent once on a fresh connection (a kept one was dead)
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._tls = tls  # None: verified against certifi's CA bundle (tests pass one trusting their own CA)
        self._lock = threading.Lock()

    def _tls_context(self) -> ssl.SSLContext:
        """Verified TLS as requests (and so apprise) did it: the certifi CA bundle, host names checked."""
        with self._lock:
            if self._tls is None:
                try:
                    import certifi

                    cafile: str | None = certifi.where()
                except ImportError:  # the system's CA store, then
                    cafile = None
                context = ssl.create_default_context(cafile=cafile)
                context.minimum_version = ssl.TLSVersion.TLSv1_2  # urllib3's floor
                self._tls = context
            return self._tls

    def _open(self, gateway: tuple[str, str, int]) -> http.client.HTTPConnection:
        scheme, host, port = gateway
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.connect_timeout, context=self._tls_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        conn.connect()  # TCP (and TLS) within the connect timeout; TCP_NODELAY is set by http.client
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)  # then each send and read within the read timeout
        return conn

    def _kept(self, gateway: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        """An idle connection to `gateway` that still looks open, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(gateway)
                conn = idle.pop() if idle else None
            if conn is None:
                return None
            if not _dropped(conn):
                return conn
            conn.close()

    def _keep(self, gateway: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(gateway, [])
            if len(idle) < self.per_host:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def post(self, request: WebhookRequest) -> tuple[bool, str | None, int | None]:
        """(accepted, why not, HTTP status). Never raises for network trouble."""
        parts = urlsplit(request.url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        gateway = (scheme, parts.hostname or "", port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn = self._kept(gateway) if attempt == 1 else None
            try:
                if conn is None:
                    conn = self._open(gateway)
                conn.request("POST", target, body=request.body, headers=request.headers)
                response = conn.getresponse()
                response.read()  # the whole answer, so the connection can carry the next page
            except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: e.g. http.client's InvalidURL
                if conn is not None:
                    conn.close()
                # A timeout is not retried: the gateway may have the page already (sending it again
                # would double it) and the escalation pages again when nobody answers. Any other
                # failure first time round is typically a kept-alive connection the gateway closed
                # while idle: once more at once, on a fresh connection.
                timed_out = isinstance(exc, TimeoutError)
                if attempt == 1 and not timed_out:
                    self.retried += 1
                    continue
                why = "no answer in time" if timed_out else type(exc).__name__
                return False, f"{request.channel}: {why}", None
            if response.will_close:
                conn.close()
            else:
                self._keep(gateway, conn)
            status = int(response.status)
            if 200 <= status < 300:
                return True, None, status
            return False, f"{request.channel}: HTTP {status}", status
        raise AssertionError("unreachable")  # pragma: no cover


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when a kept connection was closed by the gateway (or is in any state but quietly open).

    An idle HTTP/1.1 connection has nothing to read: readable means EOF, a reset, or bytes nobody
    asked for; any of these makes it unfit for the next page."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class WebhookNotifier:
    """The pager's `Notifier`: webhook-style URLs on the pooled client, the rest through `fallback`.

    Pages to the same recipient go in order (one lock per URL list), as with AppriseNotifier.
    A call with anything beyond (urls, title, body), e.g. attachments, goes to `fallback` whole.
    """

    def __init__(self, fallback: Notifier, client: WebhookClient | None = None) -> None:
        self.fallback = fallback
        self.client = client or WebhookClient()
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def _recipient_lock(self, urls: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            lock = self._locks.get(urls)
            if lock is None:
                lock = self._locks[urls] = threading.Lock()
            return lock

    def send(self, urls: list[str], title: str, body: str, attachment: str | None = None) -> bool:
        if attachment is not None:  # a picture (issue 15): apprise sends attachments, channel by channel
            return send_page(self.fallback, urls, title, body, attachment)
        requests = [(url, webhook_request(url, title, body)) for url in urls]
        others = [url for url, request in requests if request is None]
        ok = True
        with self._recipient_lock(tuple(urls)):
            for url, request in requests:
                if request is None:
                    continue
                sent, error, status = self.client.post(request)
                if not sent and status is not None and 300 <= status < 400:
                    others.append(url)  # a redirect: apprise follows it, as it did before
                    continue
                if not sent:
                    log.warning("page to %s failed: %s", redact_url(url), error)
                    ok = False
            if others:
                ok = self.fallback.send(others, title, body) and ok
        return ok
