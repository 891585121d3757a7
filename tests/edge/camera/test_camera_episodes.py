"""EpisodeTracker: one episode per disturbance, cooldown, max duration, snapshot frame."""

from __future__ import annotations

from edge.camera.episodes import EpisodeEvent, EpisodeTracker
from edge.camera.motion import MotionResult

QUIET = MotionResult(False, 0.0, (), False, False)


def moving(area: float = 0.02) -> MotionResult:
    return MotionResult(True, area, ((10, 20, 30, 40),), False, False)


def feed(tracker: EpisodeTracker[str], pattern: str, start: float = 0.0, step: float = 0.2) -> list[EpisodeEvent[str]]:
    """pattern: 'M' motion frame, '.' quiet frame, one per `step` seconds."""
    events: list[EpisodeEvent[str]] = []
    for index, char in enumerate(pattern):
        now = start + index * step
        events += tracker.update(moving() if char == "M" else QUIET, now, f"frame{index}")
    return events


def test_a_flapping_object_gives_one_episode() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=5, max_episode_s=300)
    # a branch in the wind: bursts of motion with gaps shorter than the cooldown
    pattern = ("MMM" + "." * 10) * 12 + "." * 40
    events = feed(tracker, pattern)
    assert [e.phase for e in events] == ["start", "end"]
    end = events[1]
    assert end.reason == "quiet"
    assert end.frames == 36
    assert abs(end.duration_s - (11 * 13 + 2) * 0.2) < 1e-6


def test_separate_disturbances_give_separate_episodes() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=2, max_episode_s=300)
    events = feed(tracker, "MMMM" + "." * 20 + "MMMM" + "." * 20)
    assert [e.phase for e in events] == ["start", "end", "start", "end"]


def test_single_frame_blips_do_not_start_an_episode() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=2, max_episode_s=300)
    assert feed(tracker, "M.M..M...M." * 5) == []


def test_end_waits_for_the_cooldown() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=30, max_episode_s=300)
    assert [e.phase for e in tracker.update(moving(), 0.0, "a") + tracker.update(moving(), 0.2, "b")] == ["start"]
    assert tracker.update(QUIET, 29.0, None) == []
    assert tracker.tick(30.1) == []  # 29.9 s after the last motion
    (end,) = tracker.tick(30.2)
    assert end.phase == "end" and end.duration_s == 0.2 and not tracker.active


def test_start_carries_best_confirming_frame_and_end_the_peak() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=1, max_episode_s=300)
    events = tracker.update(moving(0.01), 0.0, "small")
    events += tracker.update(moving(0.03), 0.2, "bigger")
    events += tracker.update(moving(0.08), 0.4, "peak")
    events += tracker.update(moving(0.02), 0.6, "later")
    events += tracker.tick(2.0)
    start, end = events
    assert (start.frame_ref, start.area) == ("bigger", 0.03)
    assert (end.frame_ref, end.peak_area, end.frames) == ("peak", 0.08, 4)
    assert end.boxes == ((10, 20, 30, 40),)


def test_max_duration_splits_a_never_ending_disturbance() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=5, max_episode_s=10)
    events = feed(tracker, "M" * 150, step=0.2)  # 30 s of continuous motion
    phases = [e.phase for e in events]
    assert phases == ["start", "end", "start", "end", "start"]
    assert events[1].reason == "max_duration"


def test_finish_ends_an_open_episode() -> None:
    tracker: EpisodeTracker[str] = EpisodeTracker(cooldown_s=5, max_episode_s=300)
    feed(tracker, "MMM")
    (end,) = tracker.finish()
    assert end.reason == "stopped"
    assert tracker.finish() == []
