"""Country outlines for the offline map and small spherical helpers (numpy, no Qt).

The outlines are Natural Earth 1:110m countries packaged in
``resources/world_outlines.json`` (see ``resources/README.md``).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from importlib import resources

import numpy as np

from geoscope_core.errors import DataError
from geoscope_core.geo.distance import EARTH_RADIUS_KM

log = logging.getLogger(__name__)


RESOURCE = "world_outlines.json"


@dataclass(frozen=True)
class CountryOutline:
    """One country: ``rings`` are float64 arrays [K, 2] of (lon, lat) degrees."""

    name: str
    iso_a2: str
    continent: str
    rings: tuple[np.ndarray, ...]


@functools.lru_cache(maxsize=1)
def world_outlines() -> tuple[CountryOutline, ...]:
    """The packaged country outlines (read once). Raises DataError if the resource is broken."""
    try:
        text = (
            resources.files("geoscope_desktop")
            .joinpath("resources", RESOURCE)
            .read_text(encoding="utf-8")
        )
        data = json.loads(text)
        countries = tuple(
            CountryOutline(
                name=str(c["name"]),
                iso_a2=str(c["iso_a2"]),
                continent=str(c["continent"]),
                rings=tuple(
                    np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in c["rings"] if r
                ),
            )
            for c in data["countries"]
        )
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"the packaged map outlines ({RESOURCE}) are unreadable: {e}") from e
    log.debug("loaded %d country outlines", len(countries))
    return countries


def circle_points(lat: float, lon: float, radius_km: float, n: int = 96) -> np.ndarray:
    """Points of a geodesic circle around (lat, lon) degrees with radius ``radius_km``.

    Returns float64 [n, 2] (lon, lat) in degrees, longitudes unwrapped so the
    ring is continuous across the antimeridian (they may leave -180..180).
    """
    phi1 = np.radians(lat)
    lam1 = np.radians(lon)
    delta = min(radius_km, np.pi * EARTH_RADIUS_KM * 0.999) / EARTH_RADIUS_KM
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    sin_phi2 = np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(theta)
    phi2 = np.arcsin(np.clip(sin_phi2, -1.0, 1.0))
    lam2 = lam1 + np.arctan2(
        np.sin(theta) * np.sin(delta) * np.cos(phi1),
        np.cos(delta) - np.sin(phi1) * sin_phi2,
    )
    lon2 = np.degrees(np.unwrap(lam2))
    return np.column_stack([lon2, np.degrees(phi2)])


@dataclass(frozen=True)
class CircleShapes:
    """How to draw a geodesic circle on a map spanning longitudes -180..180: ``fills``
    polygons and ``outlines`` lines (float64 [m, 2] of lon, lat degrees), ``closed``
    when the outline is a loop (it is not when the circle goes round a pole)."""

    fills: list[np.ndarray]
    outlines: list[np.ndarray]
    closed: bool


def circle_shapes(lat: float, lon: float, radius_km: float, n: int = 96) -> CircleShapes:
    """The geodesic circle around (lat, lon) degrees with radius ``radius_km``, to draw.

    A circle over a pole is filled up to that pole (its ring runs round every longitude);
    one over both poles fills the whole map; parts beyond +-180 come again shifted by 360.
    """
    ring = circle_points(lat, lon, radius_km, n)
    reach = np.degrees(min(radius_km, np.pi * EARTH_RADIUS_KM * 0.999) / EARTH_RADIUS_KM)
    north, south = 90.0 - lat < reach, 90.0 + lat < reach
    if north and south:
        world = np.array([[-180.0, -90.0], [180.0, -90.0], [180.0, 90.0], [-180.0, 90.0]])
        return CircleShapes([world], [], closed=False)
    turn = np.array([360.0, 0.0])
    fill, closed = ring, True
    if north or south:
        # the ring's end meets its start one turn round; close the area along the pole
        pole = 90.0 if north else -90.0
        end = ring[0] + np.sign(ring[-1, 0] - ring[0, 0]) * turn
        ring = np.vstack([ring, end])
        fill = np.vstack([ring, [[end[0], pole], [ring[0, 0], pole]]])
        closed = False

    def copies(shape: np.ndarray) -> list[np.ndarray]:
        out = [shape]
        if shape[:, 0].min() < -180.0:
            out.append(shape + turn)
        if shape[:, 0].max() > 180.0:
            out.append(shape - turn)
        return out

    return CircleShapes(copies(fill), copies(ring), closed)


def km_per_degree_lat() -> float:
    """Kilometres per degree of latitude (mean Earth radius)."""
    return EARTH_RADIUS_KM * np.pi / 180.0
