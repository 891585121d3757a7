"""Haversine distance and the visit flag (300 m)."""

from __future__ import annotations

import math

import pytest

from hub.community.geo import VisitFlag, haversine_m, visit_flag

POST = (-6.2000, 106.8166)  # Jakarta


def test_haversine_matches_known_distances() -> None:
    assert haversine_m(*POST, *POST) == 0
    # one degree of latitude is ~111.2 km on the mean sphere
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)
    # Jakarta (Monas) to Bandung (Gedung Sate): ~119 km great-circle
    assert haversine_m(-6.1754, 106.8272, -6.9025, 107.6188) == pytest.approx(119_000, rel=0.02)
    # across the antimeridian it takes the short way round
    assert haversine_m(0, 179.9, 0, -179.9) == pytest.approx(22_239, rel=1e-3)


def test_a_visit_within_300_m_is_not_flagged_and_one_beyond_is() -> None:
    near = (POST[0] + 0.0018, POST[1])  # ~200 m north
    far = (POST[0] + 0.0036, POST[1])  # ~400 m north
    flag, distance = visit_flag(*POST, *near)
    assert flag is None and distance == pytest.approx(200, abs=2)
    flag, distance = visit_flag(*POST, *far)
    assert flag is VisitFlag.FAR and distance == pytest.approx(400, abs=2)


def test_no_or_bad_location_is_flagged_and_an_unplaced_post_says_so() -> None:
    for lat, lon in ((None, None), (1.0, None), (math.nan, 0.0), (91.0, 0.0), (0.0, math.inf)):
        assert visit_flag(*POST, lat, lon) == (VisitFlag.NO_LOCATION, None)
    assert visit_flag(None, None, *POST) == (VisitFlag.POST_UNPLACED, None)
