"""Distance on the earth and the flag of a visit: pure functions."""

from __future__ import annotations

import math
from enum import StrEnum

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG): the error against WGS84 is well under 0.5% at these distances
MAX_VISIT_DISTANCE_M = 300.0


class VisitFlag(StrEnum):
    NO_LOCATION = "no_location"  # the phone gave no location (denied, no fix, old browser)
    FAR = "far"  # more than MAX_VISIT_DISTANCE_M from the post
    POST_UNPLACED = "post_unplaced"  # the post has no lat/lon in the settings: nothing to compare with


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_point(lat: float | None, lon: float | None) -> bool:
    return (
        lat is not None
        and lon is not None
        and math.isfinite(lat)
        and math.isfinite(lon)
        and -90.0 <= lat <= 90.0
        and -180.0 <= lon <= 180.0
    )


def visit_flag(
    post_lat: float | None,
    post_lon: float | None,
    lat: float | None,
    lon: float | None,
    limit_m: float = MAX_VISIT_DISTANCE_M,
) -> tuple[VisitFlag | None, float | None]:
    """The flag of a visit reported at (lat, lon) and its distance to the post in metres (None if unknown)."""
    if lat is None or lon is None or not valid_point(lat, lon):
        return VisitFlag.NO_LOCATION, None
    if post_lat is None or post_lon is None or not valid_point(post_lat, post_lon):
        return VisitFlag.POST_UNPLACED, None
    distance = haversine_m(post_lat, post_lon, lat, lon)
    return (VisitFlag.FAR if distance > limit_m else None), distance
