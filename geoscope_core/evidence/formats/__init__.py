"""Readers of track-log formats. Each ``read(path_or_bytes) -> RawTrack`` keeps every good
point and records what it skipped (with the line or element) in ``RawTrack.warnings``."""
