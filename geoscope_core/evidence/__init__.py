"""The user's own evidence: track logs, other devices' photos, clock offsets (numpy only).

- :mod:`.tracks`: :class:`~.tracks.Track` (time-sorted UTC fixes) and
  :func:`~.tracks.load_track` for every format of the one table
  :data:`.formats.registry.FORMATS` (readers in :mod:`.formats`);
- :mod:`.phototime`: a photo's capture time in UTC (EXIF offset, ``--tz`` or
  the zone where the track says the camera was) and per-camera clock offsets;
- :mod:`.placement`: :func:`~.placement.place_by_time`, interpolation between
  the bracketing fixes with ExifTool's gap limits, radius and confidence;
- :mod:`.offsets`: the estimated clock offset of a camera;
- :mod:`.summary`: what ``geoscope track FILE`` prints.
"""
