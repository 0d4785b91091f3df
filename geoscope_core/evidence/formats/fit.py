"""Garmin FIT activity files (binary; watches, bike computers, phone apps) with fitdecode.

Fixes are the ``record`` messages with ``position_lat``/``position_long`` (semicircles:
degrees = value * 180 / 2**31) and a ``timestamp`` (UTC; fitdecode applies the FIT epoch
of 1989-12-31 and compressed timestamps); the altitude is ``enhanced_altitude``, else
``altitude``. Records without a position (heart rate only, before the GPS fix) are not
fixes. Chained FIT files (several headers in one file) each become a segment. A damaged
or truncated file keeps the records read before the damage, and the warning says at
which byte reading stopped.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import BinaryIO

from geoscope_core.evidence.formats.base import RawTrack, TrackError

_SEMICIRCLE = 180.0 / 2**31


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        return v if math.isfinite(v) else None
    return None


def read(stream: BinaryIO, name: str = "") -> RawTrack:
    import fitdecode

    raw = RawTrack("FIT")
    records = headers = 0
    untimed = 0
    try:
        with fitdecode.FitReader(
            stream,
            check_crc=fitdecode.CrcCheck.RAISE,
            error_handling=fitdecode.ErrorHandling.RAISE,
        ) as fit:
            for frame in fit:
                if isinstance(frame, fitdecode.FitHeader):
                    headers += 1
                    continue
                if not isinstance(frame, fitdecode.FitDataMessage) or frame.name != "record":
                    continue
                records += 1
                lat = _number(frame.get_value("position_lat", fallback=None))
                lon = _number(frame.get_value("position_long", fallback=None))
                if lat is None or lon is None:
                    continue  # no GPS fix in this record
                when = frame.get_value("timestamp", fallback=None)
                if not isinstance(when, datetime):
                    untimed += 1
                    continue
                ele = _number(frame.get_value("enhanced_altitude", fallback=None))
                if ele is None:
                    ele = _number(frame.get_value("altitude", fallback=None))
                raw.add(
                    when.timestamp(),
                    lat * _SEMICIRCLE,
                    lon * _SEMICIRCLE,
                    ele,
                    max(headers - 1, 0),
                    where=f"record {records}",
                )
    except fitdecode.FitHeaderError as e:
        if not headers:
            raise TrackError(f"not a FIT file ({e})") from e
        raw.broken_at(f"byte {stream.tell()}", f"unreadable FIT header ({e})", e)
    except fitdecode.FitCRCError:
        # the checksum is checked at the end of each file: every record has been read
        raw.warn("FIT checksum mismatch: the file is damaged; its readable points kept")
    except Exception as e:  # fitdecode raises KeyError, TypeError, ... on damaged data
        offset = getattr(e, "offset", None)
        where = f"byte {offset if isinstance(offset, int) else stream.tell()}"
        if isinstance(e, fitdecode.FitEOFError):
            what = "file ends inside a message (truncated)"
        else:
            what = f"unreadable FIT data ({type(e).__name__}: {e})"
        raw.broken_at(where, what, e)
    if untimed:
        raw.warn(f"{untimed} record(s) with a position but no timestamp skipped")
    return raw
