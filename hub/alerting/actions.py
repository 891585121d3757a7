"""Operators acting on alerts (issue 15), the pure part: notes, assigning an officer, incidents
reported by phone or in person, and the checks on the text people type for them.

Values in, values out, like hub/alerting/rules.py: the alert service (hub/alerting/service.py)
applies these under its lock, saves, pages and tells the dashboards.

Text typed by a person is hostile input like anything from the network: `clean_text` accepts it
or raises `InvalidText` naming the field (the web routes answer 422 with that name). Refused:
empty text, text over the field's limit, control characters (tab and line breaks excepted),
lone surrogates, private-use characters and the bidirectional overrides that make a note read
differently from what it holds. Line breaks are kept (CRLF becomes LF); the ends are trimmed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from hub.alerting.rules import Alert, AlertKind, TimelineEntry, TransitionError, open_alert

MAX_NOTE = 500  # the timeline shows (and the audit keeps) 500 characters of an entry
MAX_DESCRIPTION = 500
MAX_REPORTER = 120
MAX_PHONE = 30
MAX_PROCEDURE = 4000

MANUAL_CATEGORIES = ("theft", "disturbance", "fire", "accident", "medical", "suspicious", "other")
"""What a manual incident is about (labels: hub/i18n.py `manual_cat_<category>`)."""
SOURCES = ("phone", "in_person")
"""How it reached the Polsek (labels: `manual_source_<source>`)."""
Source = Literal["phone", "in_person"]

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_KEPT = frozenset("\t\n")


class InvalidText(ValueError):
    """Text a person must correct: `field` names it, `reason` says why (empty, too_long, control_chars)."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason
        self.message = message


class UnknownOfficer(LookupError):
    """Not an active officer of the roster: nobody to assign."""


class UnknownPost(LookupError):
    """Not a post of the registry: no incident can be entered for it."""


def _bad_char(char: str) -> bool:
    if char in _KEPT:
        return False
    if char in _BIDI:
        return True
    return unicodedata.category(char) in ("Cc", "Cs", "Co")


def clean_text(field: str, value: Any, limit: int, *, required: bool = True, multiline: bool = True) -> str:
    """`value` as stored, or InvalidText naming `field`. Optional and empty: ""."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidText(field, "type", "must be text")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline and "\n" in value.strip():
        raise InvalidText(field, "control_chars", "must be one line")
    bad = next((c for c in value if _bad_char(c)), None)
    if bad is not None:
        raise InvalidText(field, "control_chars", f"contains a control character (U+{ord(bad):04X})")
    value = value.strip()
    if not value:
        if required:
            raise InvalidText(field, "empty", "must not be empty")
        return ""
    if len(value) > limit:
        raise InvalidText(field, "too_long", f"at most {limit} characters ({len(value)} given)")
    return value


def _require_open(alert: Alert, what: str) -> None:
    if not alert.is_open:
        raise TransitionError(f"alert {alert.id} is {alert.state.value}; {what} only while it is open")


def add_note(alert: Alert, actor: str, note: str, now: datetime) -> Alert:
    """An operator's note on an open alert: a `note` entry of the timeline (the text is checked first)."""
    _require_open(alert, "notes are added")
    text = clean_text("text", note, MAX_NOTE)
    return replace(alert, updated_at=now, timeline=(*alert.timeline, TimelineEntry(now, "note", actor, text)))


def assign(alert: Alert, actor: str, officer_id: str, officer_name: str, now: datetime) -> Alert:
    """An operator assigns an officer (by roster id and name) to an open alert; a later assignment replaces it."""
    _require_open(alert, "officers are assigned")
    return replace(
        alert,
        updated_at=now,
        assigned_to=officer_name,
        assigned_id=officer_id,
        timeline=(*alert.timeline, TimelineEntry(now, "assigned", actor, officer_name)),
    )


@dataclass(frozen=True)
class ManualReport:
    """An incident reported by phone or in person, as an operator took it down (checked: `manual_report`)."""

    category: str
    source: Source
    description: str
    reporter: str
    reporter_phone: str = ""

    def summary(self) -> str:
        """One line for the timeline and the audit log."""
        who = f"{self.reporter} {self.reporter_phone}".strip()
        return f"{self.source}: {self.category}: {self.description} ({who})"


def manual_report(
    category: Any, source: Any, description: Any, reporter: Any, reporter_phone: Any = ""
) -> ManualReport:
    """The report's fields checked one by one; InvalidText names the first wrong one."""
    if category not in MANUAL_CATEGORIES:
        raise InvalidText("kind", "unknown", f"must be one of {', '.join(MANUAL_CATEGORIES)}")
    if source not in SOURCES:
        raise InvalidText("source", "unknown", f"must be one of {', '.join(SOURCES)}")
    phone = clean_text("reporter_phone", reporter_phone, MAX_PHONE, required=False, multiline=False)
    if phone and not all(c.isdigit() or c in "+-() " for c in phone):
        raise InvalidText("reporter_phone", "format", "digits, spaces and + - ( ) only")
    return ManualReport(
        category=str(category),
        source=source,
        description=clean_text("description", description, MAX_DESCRIPTION),
        reporter=clean_text("reporter", reporter, MAX_REPORTER, multiline=False),
        reporter_phone=phone,
    )


def report_details(report: ManualReport, actor: str) -> dict[str, Any]:
    return {
        "source": report.source,
        "category": report.category,
        "description": report.description,
        "reporter": report.reporter,
        "reporter_phone": report.reporter_phone,
        "entered_by": actor,
        "messages": [report.description],
    }


def open_manual(device: str, report: ManualReport, actor: str, now: datetime) -> Alert:
    """A new `manual` alert for a post. Its first entry is `reported` by the operator (a post-raised
    alert's is `opened` by the post), and its details say how it came in and from whom."""
    alert = open_alert(device, AlertKind.MANUAL, now)
    return replace(
        alert,
        timeline=(TimelineEntry(now, "reported", actor, report.summary()),),
        details=report_details(report, actor),
    )


def join_manual(alert: Alert, report: ManualReport, actor: str, now: datetime) -> Alert:
    """Another report about a post whose manual incident is open joins it (no second page storm):
    a `reported` entry; the first report's details stay, the new description is added to `messages`."""
    _require_open(alert, "reports are joined")
    messages = [*list(alert.details.get("messages") or ()), report.description][-20:]
    return replace(
        alert,
        updated_at=now,
        details={**alert.details, "messages": messages},
        timeline=(*alert.timeline, TimelineEntry(now, "reported", actor, report.summary())),
    )
