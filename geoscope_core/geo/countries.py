"""Country names and codes (ISO 3166-1 through pycountry, with a few shorter common names)."""

from __future__ import annotations

from typing import Any

#: Shorter names where pycountry's official/common name reads badly in a caption.
_COUNTRY_NAME_OVERRIDES: dict[str, str] = {
    "BQ": "Caribbean Netherlands",
    "CC": "Cocos Islands",
    "CD": "DR Congo",
    "FK": "Falkland Islands",
    "FM": "Micronesia",
    "MF": "Saint Martin",
    "PS": "Palestine",
    "SH": "Saint Helena",
    "SX": "Sint Maarten",
    "VA": "Vatican City",
    "VG": "British Virgin Islands",
    "VI": "U.S. Virgin Islands",
    "XK": "Kosovo",
}


def _iso_country(code: str) -> Any:
    """pycountry's record of the ISO 3166-1 alpha-2 ``code`` (any case), or None."""
    import pycountry

    try:
        return pycountry.countries.get(alpha_2=code.upper()) if code else None
    except (LookupError, KeyError):
        return None


def country_name(code: str, unknown: str | None = None) -> str:
    """Common English name of the alpha-2 ``code``; ``unknown`` (default: the code
    itself) when ISO 3166-1 has no such country."""
    if code.upper() in _COUNTRY_NAME_OVERRIDES:
        return _COUNTRY_NAME_OVERRIDES[code.upper()]
    rec = _iso_country(code)
    if rec is None:
        return code if unknown is None else unknown
    return str(getattr(rec, "common_name", None) or rec.name)


def country_alpha3(code: str) -> str:
    """ISO 3166-1 alpha-3 code of the alpha-2 ``code`` ("" when there is none)."""
    rec = _iso_country(code)
    return str(rec.alpha_3) if rec is not None else ""
