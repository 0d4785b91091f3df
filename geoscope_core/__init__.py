"""GeoScope: offline photo geolocation.

The base package (``geoscope_core.geo``, ``geoscope_core.runtime``,
``geoscope_core.photos``) never imports torch; ``geoscope_core.training`` does.
"""

__version__ = "0.1.0"
