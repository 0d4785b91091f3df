"""The one placement model: every photo's evidence as a likelihood over places, travel
between a device's photos in time order; each photo's posterior (point, radius,
confidence, source, reason). numpy only."""

from geoscope_core.placement.model import (
    Hypothesis,
    PhotoEvidence,
    Placed,
    TravelModel,
    TripPlacer,
)

__all__ = ["Hypothesis", "PhotoEvidence", "Placed", "TravelModel", "TripPlacer"]
