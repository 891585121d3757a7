"""Pages of alerts for /api/alerts: the SQL history merged with the alert service's memory.

Two sources hold alerts, and neither alone is the truth:

- the SQL store (hub.alerting.sql_store.SqlAlertRepository) holds every alert ever, but it is
  written by a background thread, so it may lag the alert service by a moment (an alert opened
  or acknowledged just now), or by the whole outage while the database is away;
- the alert service's memory (`hub.alerts.all()`) holds every open alert and the recently closed
  ones, always in their newest state (every change happens there first), but not the history.

So a page is the keyset page of the *union* of both: the SQL page after the cursor, each row
replaced by the in-memory copy when memory has that alert (the freshest state), plus the in-memory
alerts that match the filters and fall inside the page's key range (opened or changed just now,
not written yet). The filters are applied again to the merged copies, so an alert that SQL still
calls open but memory already resolved is not listed under state=open. Order: newest first by
(opened_at, id), the SQL store's order. With the database away the page comes from memory alone
(`from_memory_only`): the console keeps working through an outage, with every open alert.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from hub.alerting.reports import opened_utc
from hub.alerting.rules import Alert, AlertKind
from hub.alerting.sql_store import AlertQuery, SqlAlertRepository
from hub.storage.sql.database import StoreUnavailable
from hub.storage.sql.events import decode_cursor, encode_cursor, sortable_time

Key = tuple[str, str]


@dataclass(frozen=True)
class AlertHistoryPage:
    items: list[Alert]
    next_cursor: str | None
    from_memory_only: bool = False  # the database was away: memory's alerts only (open + recent)


def alert_key(alert: Alert) -> Key:
    """The keyset position (opened_at as sortable text, id): larger is newer."""
    return sortable_time(alert.opened_at), alert.id


def matches(alert: Alert, query: AlertQuery) -> bool:
    """The SQL store's filters, on an in-memory alert."""
    state = query.state
    if state == "open" and not alert.is_open:
        return False
    if state == "closed" and alert.is_open:
        return False
    if state not in (None, "open", "closed") and alert.state.value != state:
        return False
    if query.device and alert.device != query.device:
        return False
    if query.devices is not None and alert.device not in query.devices:
        return False
    if query.kind and alert.kind.value != query.kind:
        return False
    return query.include_tests or not alert.test


def alert_page(memory: Iterable[Alert], repository: object, query: AlertQuery) -> AlertHistoryPage:
    """One page newest first. ValueError for a cursor that is not one (the route says 422)."""
    after: Key | None = decode_cursor(query.cursor) if query.cursor else None
    fresh = {alert.id: alert for alert in memory}
    limit = max(1, query.limit)
    boundary: Key | None = None  # SQL rows older than this were not read: nothing older may be listed yet
    stored: list[Alert] = []
    memory_only = not isinstance(repository, SqlAlertRepository)
    if isinstance(repository, SqlAlertRepository):  # a hub on another repository (tests): memory only
        try:
            keys, more = repository.query_keys(query)
            # Only the alerts memory does not hold are read whole: memory's copy replaces them anyway.
            found = repository.fetch([alert_id for alert_id, _ in keys if alert_id not in fresh])
        except StoreUnavailable:
            memory_only = True
        else:
            stored = [
                fresh.get(alert_id) or found[alert_id] for alert_id, _ in keys if alert_id in fresh or alert_id in found
            ]
            if more and keys:
                boundary = (keys[-1][1], keys[-1][0])
    candidates: dict[str, Alert] = {}
    for alert in stored:  # memory's copy where it has one: the newest state of the alert
        if matches(alert, query):
            candidates[alert.id] = alert
    for alert in fresh.values():
        key = alert_key(alert)
        if after is not None and not key < after:
            continue
        if boundary is not None and key < boundary:
            continue
        if matches(alert, query):
            candidates.setdefault(alert.id, alert)
    ordered = sorted(candidates.values(), key=alert_key, reverse=True)
    if len(ordered) > limit:
        items = ordered[:limit]
        last: Key | None = alert_key(items[-1])
    else:
        items = ordered
        last = boundary  # a short page, but SQL has more past the boundary
    return AlertHistoryPage(items, encode_cursor(*last) if last is not None else None, memory_only)


def find_alert(memory_get: Callable[[str], Alert | None], repository: object, alert_id: str) -> Alert | None:
    """One alert: memory's copy when it has one (the newest state), else the SQL history.
    StoreUnavailable propagates: the alert may exist, the route answers 503, not 404."""
    alert = memory_get(alert_id)
    if alert is None and isinstance(repository, SqlAlertRepository):
        alert = repository.get(alert_id)
    return alert


@dataclass(frozen=True)
class AlertsInRange:
    items: list[Alert]
    from_memory_only: bool = False  # the database was away: memory's alerts only (open + recent)
    capped: bool = False  # more than `limit` alerts were opened in the range: only the first were read


def alerts_opened(
    memory: Iterable[Alert],
    repository: object,
    since: datetime,
    until: datetime,
    include_tests: bool = False,
    limit: int = 200_000,
    kinds: Collection[AlertKind] | None = None,
    whole: bool = True,
) -> AlertsInRange:
    """Every alert opened in [since, until) (reports): the SQL history read by an indexed range scan
    (never the whole history), each replaced by memory's copy when memory has it (its newest state),
    plus memory's alerts of the range not written yet. At most `limit` from SQL (oldest first).
    `kinds`: only these kinds; `whole=False`: SQL's alerts without timelines and event ids (lighter)."""
    found: dict[str, Alert] = {}
    memory_only = not isinstance(repository, SqlAlertRepository)
    capped = False
    if isinstance(repository, SqlAlertRepository):
        try:
            for alert in repository.scan(since, until, include_tests=include_tests, kinds=kinds, whole=whole):
                if len(found) >= limit:
                    capped = True
                    break
                found[alert.id] = alert
        except StoreUnavailable:
            memory_only = True
    for alert in memory:
        if (
            since <= opened_utc(alert) < until
            and (include_tests or not alert.test)
            and (kinds is None or alert.kind in kinds)
        ):
            found[alert.id] = alert
    return AlertsInRange(sorted(found.values(), key=lambda a: (opened_utc(a), a.id)), memory_only, capped)
