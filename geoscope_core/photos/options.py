"""What a write is asked to do and what it did: options, per-photo actions, reports.

Shared by the writer, ``geoscope scan --write`` and the desktop app, so an
action is spelled once (as an enum whose values are the strings shown to users).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from geoscope_core.errors import ConfigError


class WriteAction(str, enum.Enum):
    """What the writer did with one photo."""

    WRITTEN = "written"  # in place
    SIDECAR = "sidecar"
    SKIPPED = "skipped"
    WOULD_WRITE = "would-write"  # dry run
    FAILED = "failed"


#: Actions after which the photo (or its sidecar) carries the estimate.
WROTE = frozenset({WriteAction.WRITTEN, WriteAction.SIDECAR})


class SidecarPolicy(str, enum.Enum):
    """When to write an XMP sidecar instead of modifying the photo.

    AUTO: only for formats that cannot be written in place safely (HEIC, raw)
    and read-only files; ALWAYS: every photo; NEVER: never (such photos are
    skipped with a reason).
    """

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class WriteOptions:
    """How :func:`write_locations` behaves.

    ``overwrite_gps``: replace GPS already in the photo (camera fix or earlier
    estimate); ``sidecar``: see SidecarPolicy; ``keep_mtime``: give the
    written file its original modification time; ``dry_run``: report
    "would-write" and touch nothing; ``min_confidence`` (0-1): estimates below
    it are skipped (not those the user placed by hand); ``follow_links``: also write
    through symbolic links that lead out of the folders the user named;
    ``fill_names``: a photo's own camera GPS (a ``Source.EXIF`` prediction) gets its
    place names written from that point, the names only (its GPS is never touched),
    instead of being skipped.
    """

    overwrite_gps: bool = False
    sidecar: SidecarPolicy = SidecarPolicy.AUTO
    keep_mtime: bool = True
    dry_run: bool = False
    min_confidence: float = 0.0
    follow_links: bool = False
    fill_names: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sidecar", SidecarPolicy(self.sidecar))
        except ValueError as e:
            raise ConfigError(
                f"sidecar must be one of auto|always|never, not {self.sidecar!r}"
            ) from e
        try:
            ok = 0.0 <= float(self.min_confidence) <= 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"min_confidence must be in [0, 1], not {self.min_confidence!r}")


@dataclass(frozen=True)
class WriteResult:
    """Outcome for one photo; ``target`` is the file that was (or would be) written:
    the photo or its sidecar."""

    path: Path
    action: WriteAction
    reason: str = ""
    target: Path | None = None


@dataclass(frozen=True)
class WriteReport:
    """All results of a batch and the journal that records its changes
    (None when nothing was changed)."""

    results: list[WriteResult]
    journal: Path | None
