"""The one fitter of temperatures and error radii (exporter and protocol alike)."""

from __future__ import annotations

import numpy as np
import pytest

from geoscope_core.calibration import (
    CalibrationError,
    fit_error_model,
    fit_temperature,
    softmax_nll,
)


def test_the_temperature_that_drew_the_labels_is_recovered() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 20))
    z = logits / 2.5
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    target = np.array([rng.choice(20, p=row) for row in p])
    assert fit_temperature(softmax_nll(logits, target)) == pytest.approx(2.5, rel=0.1)


def test_weights_make_a_source_count_as_much_as_a_bigger_one() -> None:
    """Ten photos off by 100 km, two off by 5000 km, all equally confident: unweighted
    the radius holding 68% is small; weighting the two as much as the ten, it is not."""
    conf = np.full(12, 0.5)
    err = np.array([100.0] * 10 + [5000.0] * 2)
    assert fit_error_model(conf, err, bins=1).radius_km == (100.0,)
    w = np.array([1 / 10] * 10 + [1 / 2] * 2)
    assert fit_error_model(conf, err, w, bins=1).radius_km == (5000.0,)


def test_no_photos_is_an_error() -> None:
    with pytest.raises(CalibrationError):
        fit_error_model(np.array([]), np.array([]))


def test_the_temperature_stays_within_what_a_manifest_accepts() -> None:
    """Logits worth nothing want the hottest temperature: it is the manifest's bound
    itself, never a rounding error past it (which no manifest would accept)."""
    from geoscope_core.runtime.manifest import TEMPERATURE_RANGE

    lo, hi = TEMPERATURE_RANGE
    assert lo <= fit_temperature(lambda t: -t) <= hi
    assert lo <= fit_temperature(lambda t: t) <= hi
    assert fit_temperature(lambda t: -t) == pytest.approx(hi)
