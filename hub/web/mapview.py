"""Offline map of the posts: project lat/lon into an SVG box (pure), with optional raster tiles.

Positions use Web Mercator at a zoom that fits every post into the box, so an optional tile
layer (`map_tile_url`, e.g. a tile server on the Polsek LAN) lines up with the markers. With
no tile URL the map is just the markers on a plain background: nothing leaves the LAN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TILE = 256
MAX_ZOOM = 18
SINGLE_POST_ZOOM = 16


@dataclass(frozen=True)
class Marker:
    device_id: str
    name: str
    x: float
    y: float


@dataclass(frozen=True)
class Tile:
    url: str
    x: float
    y: float
    size: int = TILE


@dataclass(frozen=True)
class MapView:
    width: int
    height: int
    zoom: int
    markers: tuple[Marker, ...]
    tiles: tuple[Tile, ...]


def world_xy(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel coordinates of a point at `zoom` (256-pixel tiles)."""
    scale = TILE * 2**zoom
    lat = max(-85.05112878, min(85.05112878, lat))
    siny = math.sin(math.radians(lat))
    x = (lon + 180.0) / 360.0 * scale
    y = (0.5 - math.log((1 + siny) / (1 - siny)) / (4 * math.pi)) * scale
    return x, y


def fit_zoom(points: list[tuple[float, float]], width: int, height: int, margin: int) -> int:
    if len(points) < 2:
        return SINGLE_POST_ZOOM
    for zoom in range(MAX_ZOOM, -1, -1):
        xs, ys = zip(*(world_xy(lat, lon, zoom) for lat, lon in points), strict=True)
        if max(xs) - min(xs) <= width - 2 * margin and max(ys) - min(ys) <= height - 2 * margin:
            return zoom
    return 0


def build_map(
    posts: list[tuple[str, str, float | None, float | None]],
    width: int = 800,
    height: int = 500,
    margin: int = 40,
    tile_url: str | None = None,
) -> MapView:
    """Markers for posts that have coordinates (device_id, name, lat, lon), centred in the box."""
    located = [(d, n, lat, lon) for d, n, lat, lon in posts if lat is not None and lon is not None]
    if not located:
        return MapView(width, height, 0, (), ())
    points = [(lat, lon) for _, _, lat, lon in located]
    zoom = fit_zoom(points, width, height, margin)
    world = [world_xy(lat, lon, zoom) for lat, lon in points]
    xs, ys = [p[0] for p in world], [p[1] for p in world]
    left = (min(xs) + max(xs)) / 2 - width / 2  # world pixel at the box's left edge
    top = (min(ys) + max(ys)) / 2 - height / 2
    markers = tuple(Marker(d, n, wx - left, wy - top) for (d, n, _, _), (wx, wy) in zip(located, world, strict=True))
    tiles: list[Tile] = []
    if tile_url:
        count = 2**zoom
        for tx in range(math.floor(left / TILE), math.floor((left + width) / TILE) + 1):
            for ty in range(max(0, math.floor(top / TILE)), min(count - 1, math.floor((top + height) / TILE)) + 1):
                url = tile_url.format(z=zoom, x=tx % count, y=ty)
                tiles.append(Tile(url, tx * TILE - left, ty * TILE - top))
    return MapView(width, height, zoom, markers, tuple(tiles))
