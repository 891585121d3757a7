"""Pure health rules: which warnings a health report raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.alerting.health_rules import details, evaluate
from hub.settings import HealthThresholds

LIMITS = HealthThresholds()
GB = 1024**3


def report(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cpu_temp_c": 50.0,
        "throttle": {
            "raw": "0x0",
            "under_voltage": False,
            "freq_capped": False,
            "throttled": False,
            "soft_temp_limit": False,
        },
        "disk": {"path": "/var/lib/poskamling", "free_bytes": 10 * GB, "total_bytes": 30 * GB, "free_pct": 33.3},
        "outbox": {"depth": 0, "drops": 0},
        "cameras": {"gate": 5.0},
    }
    base.update(fields)
    return base


def codes(
    health: dict[str, Any], previous: dict[str, Any] | None = None, limits: HealthThresholds = LIMITS
) -> list[str]:
    return [w.code for w in evaluate(health, limits, previous)]


def test_a_healthy_post_raises_nothing() -> None:
    assert codes(report()) == []


@pytest.mark.parametrize(("temp", "expected"), [(79.9, []), (80.0, ["overheating"]), (91.5, ["overheating"])])
def test_overheating_from_temperature(temp: float, expected: list[str]) -> None:
    assert codes(report(cpu_temp_c=temp)) == expected


@pytest.mark.parametrize("flag", ["throttled", "soft_temp_limit", "freq_capped"])
def test_overheating_from_current_throttle_flags(flag: str) -> None:
    assert codes(report(throttle={"raw": "0x4", flag: True})) == ["overheating"]
    assert (
        codes(report(throttle={"raw": "0x4", flag: True}), limits=HealthThresholds(throttle_is_overheating=False)) == []
    )


def test_past_throttling_alone_is_not_a_warning() -> None:
    assert codes(report(throttle={"raw": "0x50000", "throttled_occurred": True, "under_voltage_occurred": True})) == []


def test_under_voltage() -> None:
    assert codes(report(throttle={"raw": "0x1", "under_voltage": True})) == ["under_voltage"]


@pytest.mark.parametrize(
    ("free_bytes", "free_pct", "low"),
    [(10 * GB, 33.0, False), (10 * GB, 4.9, True), (150 * 1024 * 1024, 50.0, True), (250 * 1024 * 1024, 5.0, False)],
)
def test_disk_nearly_full_by_percentage_or_megabytes(free_bytes: int, free_pct: float, low: bool) -> None:
    disk = {"path": "/x", "free_bytes": free_bytes, "total_bytes": 30 * GB, "free_pct": free_pct}
    assert codes(report(disk=disk)) == (["disk_low"] if low else [])


def test_stalled_camera_is_zero_fps_or_null() -> None:
    warnings = evaluate(report(cameras={"gate": 0.0, "lane": None, "yard": 4.8}), LIMITS)
    assert [w.code for w in warnings] == ["camera_stalled"]
    assert warnings[0].value == ["gate", "lane"]
    assert codes(report(cameras={})) == []


def test_outbox_drops_only_when_new_drops_since_the_previous_report() -> None:
    first = report(outbox={"depth": 900, "drops": 3})
    assert codes(first) == ["outbox_drops"]  # no earlier report: any drop counts
    assert codes(report(outbox={"depth": 900, "drops": 3}), previous=first) == []
    assert codes(report(outbox={"depth": 900, "drops": 5}), previous=first) == ["outbox_drops"]


def test_missing_readings_never_warn() -> None:
    empty = {
        "cpu_temp_c": None,
        "throttle": None,
        "disk": None,
        "outbox": {"depth": None, "drops": None},
        "cameras": {},
    }
    assert codes(empty) == []
    assert codes({}) == []


def test_disabled_raises_nothing_and_details_are_json() -> None:
    hot = report(cpu_temp_c=95.0, throttle={"raw": "0x1", "under_voltage": True})
    assert codes(hot, limits=HealthThresholds(enabled=False)) == []
    info = details(evaluate(hot, LIMITS))
    assert info["warnings"] == ["overheating", "under_voltage"]
    assert info["values"]["overheating"] == 95.0 and len(info["messages"]) == 2


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine is slow, not wrong
@given(
    st.dictionaries(
        st.sampled_from(["cpu_temp_c", "throttle", "disk", "outbox", "cameras"]),
        st.recursive(
            st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
            max_leaves=8,
        ),
    )
)
def test_any_json_shape_is_evaluated_without_raising(health: dict[str, Any]) -> None:
    for warning in evaluate(health, LIMITS, previous=health):
        assert warning.code in {"overheating", "under_voltage", "disk_low", "camera_stalled", "outbox_drops"}
