"""What a scan takes and gives: its options, one result per photo, and its figures."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.personal import EvidenceOptions
from geoscope_core.fsio import path_text
from geoscope_core.photos.metadata import PhotoMetadata
from geoscope_core.placement import PhotoEvidence
from geoscope_core.prediction import Prediction, Source

#: Error radius (km) reported for a camera GPS fix.
EXIF_RADIUS_KM = 0.05


class ScanStatus(str, enum.Enum):
    """What placed a photo in a scan (its value is what CSV, JSON and GeoJSON say): the
    ``Source`` of its location, by the same words, except ``predicted`` for the model's
    (the scan's output contract) and ``error`` for none."""

    EXIF = Source.EXIF.value  # the photo carries a camera GPS fix
    TRACK = Source.TRACK.value  # placed by time on the user's track logs
    NEIGHBORS = Source.NEIGHBORS.value  # the user's own GPS-tagged photos, by time or look
    PREDICTED = "predicted"  # the model
    ERROR = "error"  # no place: the result's ``error`` says why

    @classmethod
    def of(cls, source: Source) -> ScanStatus:
        """The status of a placement from ``source`` (the model's unless the user's own
        evidence placed it)."""
        return _BY_SOURCE.get(source, cls.PREDICTED)

    @property
    def by_evidence(self) -> bool:
        """Placed by the user's own evidence (track logs or GPS photos), not the model."""
        return self in (ScanStatus.TRACK, ScanStatus.NEIGHBORS)


_BY_SOURCE = {
    Source.TRACK: ScanStatus.TRACK,
    Source.NEIGHBORS: ScanStatus.NEIGHBORS,
    Source.MODEL: ScanStatus.PREDICTED,
}


@dataclass(frozen=True)
class ScanOptions:
    """How a scan runs. ``batch_size`` images per inference call; ``workers`` decode
    threads (0 = one per CPU); ``time_window_s`` seconds for same-camera time neighbours
    of photos whose UTC time is unknown; ``cache_path`` overrides the cache file (default
    in ``settings.cache_dir()``); ``evidence`` the user's track logs, time zone, clock
    offsets and gap limits (None: defaults, no track); ``references`` folders of more
    GPS-tagged photos to place by (read, never reported or written)."""

    use_cache: bool = True
    neighbors: bool = True
    repredict_gps: bool = False
    batch_size: int = 16
    workers: int = 0
    time_window_s: float = 300.0
    cache_path: Path | None = None
    evidence: EvidenceOptions | None = None
    references: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1024:
            raise ConfigError(f"batch_size must be in 1..1024, got {self.batch_size}")
        if not 0 <= self.workers <= 256:
            raise ConfigError(f"workers must be in 0..256, got {self.workers}")
        if self.time_window_s < 0:
            raise ConfigError(f"time_window_s must be >= 0, got {self.time_window_s}")


@dataclass(frozen=True)
class TripEvidence:
    """What a photo's own evidence offered the placement of its folder (``evidence``),
    and its own estimate before its trip-mates weighed in (``own``, with its
    ``own_reason``; None where it has none): what placing the folder again after the
    user's decisions starts from."""

    evidence: PhotoEvidence
    own: Prediction | None = None
    own_reason: str = ""


@dataclass(frozen=True)
class ScanResult:
    """Outcome for one photo: its ``status`` (ScanStatus; ``prediction`` is None for
    ERROR, and ``error`` says why). ``reason`` says what placed it, e.g. "track, 14 s
    from a fix"; ``trip`` its own evidence for placing the folder again (None for an
    error). ``metadata.fingerprint`` is the file content the scan saw, so a later write
    refuses a photo changed since. ``uri`` names a photo that is an object in a store
    (``s3://bucket/key``; "" for a local file): its ``path`` is then ``Path(uri)``,
    only a name, never a local file."""

    path: Path
    status: ScanStatus
    prediction: Prediction | None
    metadata: PhotoMetadata | None
    error: str = ""
    reason: str = ""
    trip: TripEvidence | None = None
    uri: str = ""

    @property
    def where(self) -> str:
        """The photo as every output names it: its URI, or its local path as text."""
        return self.uri or path_text(self.path)


@dataclass
class ScanStats:
    """Figures of the last scan: seconds summed over threads, and counts."""

    wall_s: float = 0.0
    metadata_s: float = 0.0
    decode_s: float = 0.0
    decode_cpu_s: float = 0.0  # CPU time of the decode threads (excludes waiting for a core)
    infer_s: float = 0.0
    wait_s: float = 0.0  # main thread waiting for a decode to finish
    decoded: int = 0
    cached: int = 0
    counts: dict[ScanStatus, int] = field(default_factory=lambda: dict.fromkeys(ScanStatus, 0))
