"""Armed windows across midnight and day/night profiles."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from edge.camera.config import CameraConfig, TimeWindow
from edge.camera.schedule import active_profile, in_window, is_armed, sensitivity_at

NIGHT = TimeWindow(start="22:00", end="05:00")
DAY = TimeWindow(start="08:00", end="17:30")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 59, 59), True),
        (time(0, 0), True),
        (time(4, 59), True),
        (time(5, 0), False),
        (time(12, 0), False),
    ],
)
def test_window_across_midnight(moment: time, expected: bool) -> None:
    assert in_window(moment, NIGHT) is expected


@pytest.mark.parametrize(
    ("moment", "expected"), [(time(7, 59), False), (time(8, 0), True), (time(17, 29), True), (time(17, 30), False)]
)
def test_window_within_a_day(moment: time, expected: bool) -> None:
    assert in_window(moment, DAY) is expected


def test_empty_schedule_is_always_armed() -> None:
    assert is_armed(datetime(2026, 1, 1, 12, 0), [])


def test_armed_uses_local_wall_time_of_aware_datetimes() -> None:
    wib = timezone(timedelta(hours=7))
    assert is_armed(datetime(2026, 1, 1, 23, 30, tzinfo=wib), [NIGHT])
    assert not is_armed(datetime(2026, 1, 1, 12, 0, tzinfo=wib), [NIGHT])
    assert is_armed(datetime(2026, 1, 2, 1, 0, tzinfo=wib), [DAY, NIGHT])


def test_profiles_and_sensitivity() -> None:
    config = CameraConfig(
        name="gate",
        source=0,
        threshold=25,
        min_area=0.003,
        profiles=[
            {"name": "night", "windows": [{"start": "18:30", "end": "06:00"}], "threshold": 35},
            {"name": "evening", "windows": [{"start": "17:00", "end": "20:00"}], "min_area": 0.01},
        ],
    )
    noon = datetime(2026, 3, 1, 12, 0)
    assert active_profile(noon, config.profiles) is None
    assert sensitivity_at(config, noon).threshold == 25
    late = sensitivity_at(config, datetime(2026, 3, 1, 2, 0))
    assert (late.threshold, late.min_area, late.profile) == (35, 0.003, "night")
    # 19:00 is in both windows: the first profile wins
    assert sensitivity_at(config, datetime(2026, 3, 1, 19, 0)).profile == "night"
    evening = sensitivity_at(config, datetime(2026, 3, 1, 17, 30))
    assert (evening.threshold, evening.min_area, evening.profile) == (25, 0.01, "evening")
