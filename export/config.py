"""Export settings (frozen, validated) shared by the exporter's steps."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from geoscope_core.errors import ConfigError
from geoscope_core.geo.labelsets import ZERO_SHOT_LEVELS
from geoscope_core.runtime.manifest import View


class Quantize(str, enum.Enum):
    """Weights of the shipped image encoder."""

    INT8 = "int8"  # ONNX Runtime int8 (static QDQ for CNNs, dynamic for transformer towers)
    FP16 = "fp16"  # float16 weights and activations, float32 inputs/outputs kept
    NONE = "none"  # the float32 graph as exported


class Int8Method(str, enum.Enum):
    """How int8 weights/activations are chosen for the image encoder."""

    AUTO = "auto"  # static QDQ for convolutional graphs, dynamic for transformer graphs
    STATIC_QDQ = "static-qdq"  # calibrated activation ranges, QuantizeLinear/DequantizeLinear
    DYNAMIC = "dynamic"  # weights only; activations ranged at run time


@dataclass(frozen=True)
class ExportConfig:
    """What ``export_bundle`` writes.

    ``levels``: zero-shot label levels (subset of country, admin1, city; classifier
    bundles take their levels from the checkpoint). ``cities_per_country``: the N
    most populous cities per country in a zero-shot ``city`` level (None: the training
    run's ``top_cities``, which its validation decoded with; 30 without a training run).
    ``calibration_csv`` / ``val_csv``: labels CSVs (``path,lat,lon[,country_code]``);
    None means the shared geo data's train / val split. ``calibration_images``:
    photos used to range int8 activations. ``max_val``: cap on validation photos
    (0 = all). ``parity_atol`` / ``parity_rtol``: the fp32 PyTorch vs ONNX Runtime
    tolerance, ``|onnx - torch| <= atol + rtol * max|torch|`` per output.
    ``opset``: ONNX opset of the exported graphs (>= 17). ``int8_float_edges``: static
    int8 keeps the first convolution and the classifier heads in float32.
    ``gallery_dim``: a model that decodes with a gallery (its decoding spec names one)
    gets the training photos (those of ``calibration_csv``, default the shared train
    split) embedded with the shipped encoder, projected on that many principal
    components (``geoscope_core.runtime.gallery``); 0 refuses such a model.
    ``oos_calibration``: the out-of-source protocol's ``calibration.json``
    (``training.protocol``): the bundle's temperature, error radius and unsure
    threshold are taken from it, not fitted on the validation photos.
    ``views``: the manifest's ``input.views`` (empty: the model's own, one centre view):
    validation, the gallery and the error radius see the photos as the runtime will;
    int8 activation ranges come from one centre view of each calibration photo.
    """

    quantize: Quantize | str = Quantize.INT8
    int8_method: Int8Method | str = Int8Method.AUTO
    levels: tuple[str, ...] = ZERO_SHOT_LEVELS
    cities_per_country: int | None = None
    calibration_csv: Path | None = None
    val_csv: Path | None = None
    calibration_images: int = 256
    max_val: int = 0
    validate: bool = True
    text_encoder: bool = True
    name: str | None = None
    description: str = ""
    zip: bool = False
    overwrite: bool = False
    opset: int = 17
    parity_atol: float = 1e-3
    parity_rtol: float = 1e-3
    batch_size: int = 16
    seed: int = 0
    int8_float_edges: bool = True
    gallery_dim: int = 0
    oos_calibration: Path | None = None
    views: tuple[View, ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "quantize", Quantize(self.quantize))
            object.__setattr__(self, "int8_method", Int8Method(self.int8_method))
        except ValueError as e:
            raise ConfigError(str(e)) from e
        levels = tuple(self.levels)
        object.__setattr__(self, "levels", levels)
        if not levels:
            raise ConfigError("levels must name at least one level")
        unknown = [lv for lv in levels if lv not in ZERO_SHOT_LEVELS]
        if unknown:
            raise ConfigError(f"unknown levels {unknown}; choose from {list(ZERO_SHOT_LEVELS)}")
        if len(set(levels)) != len(levels):
            raise ConfigError(f"duplicate levels in {list(levels)}")
        # keep the hierarchy order whatever order the user typed
        object.__setattr__(self, "levels", tuple(lv for lv in ZERO_SHOT_LEVELS if lv in levels))
        if self.cities_per_country is not None and self.cities_per_country < 1:
            raise ConfigError("cities_per_country must be >= 1")
        if self.calibration_images < 1:
            raise ConfigError("calibration_images must be >= 1")
        if self.max_val < 0:
            raise ConfigError("max_val must be >= 0 (0 = all)")
        if self.opset < 17:
            raise ConfigError(f"opset must be >= 17, got {self.opset}")
        if self.parity_atol <= 0 or self.parity_rtol < 0:
            raise ConfigError("parity_atol must be > 0 and parity_rtol >= 0")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be >= 1")
        if self.gallery_dim < 0:
            raise ConfigError("gallery_dim must be >= 0")
        try:
            object.__setattr__(self, "views", tuple(View(v) for v in self.views))
        except ValueError as e:
            raise ConfigError(f"views: {e}; choose from {[v.value for v in View]}") from e
        if self.name is not None and (not self.name or "/" in self.name or "@" in self.name):
            raise ConfigError(f"invalid bundle name {self.name!r}")
        for attr in ("calibration_csv", "val_csv", "oos_calibration"):
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, Path(value))
