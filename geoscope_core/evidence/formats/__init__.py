"""Readers of track-log formats, one row each in :mod:`.registry`. Each
``read(stream, name) -> RawTrack`` reads a binary stream as it comes (XML through expat a
chunk at a time, text line by line), keeps every good point and records what it skipped
(with the line or element) in ``RawTrack.warnings``."""
