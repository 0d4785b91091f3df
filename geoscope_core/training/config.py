"""Training configs: frozen dataclasses <-> JSON, validated on construction.

A config file is a JSON object whose keys are field names of :class:`CnnConfig`
or :class:`ClipConfig`; ``model_type`` picks the class. ``--set key=value``
overrides parse ``value`` as JSON when possible (numbers, booleans, lists) and as
a plain string otherwise; tuple fields also accept ``a,b,c``.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoscope_core.errors import BundleError, ConfigError
from geoscope_core.runtime.manifest import DecodingSpec, Point, Refine

LEVELS = ("country", "admin1", "cell")
#: The bundle file of a classifier's retrieval gallery (``runtime.gallery``).
GALLERY_FILE = "gallery.npz"
CAPTION_LEVELS = ("continent", "country", "admin1", "city")


@dataclass(frozen=True)
class TrainConfig:
    """Fields shared by every model type.

    ``data``: labels CSV (``path,lat,lon[,country_code][,split]``); "" = the shared
    ``data_dir()/geo/labels.csv``. ``exclude_countries``: ISO alpha-2 codes removed from
    the training split (held-out-countries experiments). ``feature_views``: how many
    views per training image are encoded and cached while the backbone is frozen
    (view 0 is the plain centre crop, the others are augmented). Augmentations never
    flip horizontally unless ``hflip`` is set: a mirrored street swaps the driving side
    and mirrors text, which are strong location cues.
    """

    name: str = "model"
    seed: int = 0
    data: str = ""
    train_split: str = "train"
    val_split: str = "val"
    exclude_countries: tuple[str, ...] = ()
    max_train: int = 0  # 0 = all training records (debugging aid)
    max_val: int = 0
    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    backbone_weights: str = ""  # weights file (torchvision) or HF folder (hf-clip-vision)
    input_size: int = 0  # 0 = the backbone's native size
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    feature_views: int = 3
    aug_scale_min: float = 0.6
    color_jitter: float = 0.2
    hflip: bool = False
    unfreeze_blocks: int = 0
    finetune_epochs: int = 0
    finetune_lr: float = 1e-4
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    num_workers: int = 0
    feature_cache: str = ""  # "" = settings.cache_dir()/"features"

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ConfigError(f"name must be a non-empty file name, got {self.name!r}")
        if self.epochs < 0 or self.finetune_epochs < 0:
            raise ConfigError("epochs and finetune_epochs must be >= 0")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0 or self.finetune_lr <= 0 or self.weight_decay < 0:
            raise ConfigError("lr and finetune_lr must be > 0, weight_decay >= 0")
        if self.feature_views < 1:
            raise ConfigError(f"feature_views must be >= 1, got {self.feature_views}")
        if not 0.05 <= self.aug_scale_min <= 1.0:
            raise ConfigError(f"aug_scale_min must be in 0.05..1, got {self.aug_scale_min}")
        if not 0.0 <= self.color_jitter <= 1.0:
            raise ConfigError(f"color_jitter must be in 0..1, got {self.color_jitter}")
        if self.unfreeze_blocks < 0:
            raise ConfigError("unfreeze_blocks must be >= 0")
        if self.finetune_epochs and not self.unfreeze_blocks:
            raise ConfigError("finetune_epochs needs unfreeze_blocks > 0")
        if self.input_size and not 32 <= self.input_size <= 1024:
            raise ConfigError(f"input_size must be 0 or in 32..1024, got {self.input_size}")
        if self.max_train < 0 or self.max_val < 0 or self.num_workers < 0:
            raise ConfigError("max_train, max_val and num_workers must be >= 0")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        for cc in self.exclude_countries:
            if len(cc) != 2 or not cc.isalpha() or not cc.isupper():
                raise ConfigError(f"exclude_countries needs ISO alpha-2 codes, got {cc!r}")

    @property
    def model_type(self) -> str:
        raise NotImplementedError

    def decoding_spec(self) -> DecodingSpec:
        """How the trained model's answers are decoded (each model type says)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"model_type": self.model_type}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


@dataclass(frozen=True)
class CnnConfig(TrainConfig):
    """Geocell classifier on an image backbone.

    ``levels``: classifier heads in hierarchy order, each "country", "admin1"
    (semantic cells from the gazetteer) or "cell" (k-means cells, ``kmeans_k`` of them).
    ``smoothing_km``: haversine label smoothing temperature tau in km (PIGEON: the
    target of cell c is proportional to exp(-(d(c, y) - d(nearest, y)) / tau)); 0 = one-hot.
    ``refine_top_k``: prediction = probability-weighted mean of those top-k cell
    centroids of the finest level that lie within ``refine_radius_km`` of the arg-max
    centroid (k = 1: the arg-max centroid). ``country_smoothing_km``:
    tau of the country level (countries are far apart, a smaller tau is one-hot).
    ``balance_km`` > 0 weights each training photo (loss and k-means) by
    ``geo.balance.place_weights`` over grid squares of that side, so that each square
    weighs ``n**balance_power`` for its ``n`` photos: a dense campus or one country's
    Street View cannot dominate the world; 0 = every photo weighs the same.
    ``country_power`` / ``source_power`` then give each country / each data source
    (the ``set`` column) a total weight of ``W**power`` for the ``W`` it holds
    (``geo.balance.rebalance``; 1 = unchanged, 0 = every country / source the same).
    ``logit_adjust_tau``: after training, each head's logits are lowered by
    ``tau * log(prior)``, the prior being the level's weighted share of the training
    targets (logit adjustment: a dense region no longer wins whenever the photo is
    unclear; 0 = off; chosen out of source by ``training.protocol``).

    Decoding (the model's :meth:`decoding_spec`, which training validates with and
    export copies into the bundle): ``refine`` (``top`` | ``weighted``), ``refine_top_k``
    and ``refine_radius_km``; ``gallery`` decodes with a retrieval gallery of the training
    photos inside the ``gallery_top_cells`` most likely cells, used only when the most
    similar photo's cosine similarity is at least ``gallery_min_similarity``
    (-1 = always); ``point``: which point of the posterior answers (``mode``,
    ``min_expected_distance``, ``max_expected_geoscore``, ``max_mass_within`` the
    place holding the most posterior mass within ``within_km`` km; chosen out of source
    by the protocol; the share of the training prior it mixes into its posterior is
    calibration, fitted by the protocol with the temperature).
    """

    name: str = "cnn"
    levels: tuple[str, ...] = ("country", "cell")
    kmeans_k: int = 64
    min_samples: int = 1
    smoothing_km: float = 75.0
    country_smoothing_km: float = 300.0
    hidden_dim: int = 0  # 0 = linear heads on the (frozen) features
    dropout: float = 0.1
    refine_top_k: int = 3
    refine_radius_km: float = 150.0
    balance_km: float = 0.0
    balance_power: float = 0.5
    country_power: float = 1.0
    source_power: float = 1.0
    logit_adjust_tau: float = 0.0
    refine: str = Refine.WEIGHTED.value
    gallery: bool = False
    gallery_top_cells: int = 5
    gallery_min_similarity: float = -1.0
    point: str = Point.MODE.value
    within_km: float = 2500.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.balance_km < 0 or not 0.0 <= self.balance_power <= 1.0:
            raise ConfigError("balance_km must be >= 0 and balance_power in 0..1")
        if not (0.0 <= self.country_power <= 1.0 and 0.0 <= self.source_power <= 1.0):
            raise ConfigError("country_power and source_power must be in 0..1")
        if not 0.0 <= self.logit_adjust_tau <= 2.0:
            raise ConfigError(f"logit_adjust_tau must be in 0..2, got {self.logit_adjust_tau}")
        if not -1.0 <= self.gallery_min_similarity <= 1.0:
            raise ConfigError("gallery_min_similarity must be in -1..1")
        self.decoding_spec()  # the spec validates refine and gallery_top_cells
        if not self.levels or any(lv not in LEVELS for lv in self.levels):
            raise ConfigError(f"levels must be a non-empty subset of {LEVELS}, got {self.levels}")
        if len(set(self.levels)) != len(self.levels):
            raise ConfigError(f"levels repeat: {self.levels}")
        if self.kmeans_k < 2:
            raise ConfigError(f"kmeans_k must be >= 2, got {self.kmeans_k}")
        if self.min_samples < 1:
            raise ConfigError("min_samples must be >= 1")
        if self.smoothing_km < 0 or self.country_smoothing_km < 0:
            raise ConfigError("smoothing_km must be >= 0")
        if self.hidden_dim < 0 or not 0.0 <= self.dropout < 1.0:
            raise ConfigError("hidden_dim must be >= 0 and dropout in [0, 1)")
        if self.refine_top_k < 1 or self.refine_radius_km < 0:
            raise ConfigError("refine_top_k must be >= 1 and refine_radius_km >= 0")

    @property
    def model_type(self) -> str:
        return "cnn"

    def decoding_spec(self) -> DecodingSpec:
        """How this model's answers are decoded: what training validates with, what
        export writes into the bundle's manifest as it is."""
        try:
            return DecodingSpec(
                refine=Refine(self.refine),
                refine_k=self.refine_top_k,
                refine_radius_km=self.refine_radius_km,
                gallery=GALLERY_FILE if self.gallery else None,
                gallery_top_cells=self.gallery_top_cells,
                gallery_min_similarity=self.gallery_min_similarity,
                point=Point(self.point),
                within_km=self.within_km,
            )
        except (ValueError, BundleError) as e:
            raise ConfigError(f"decoding settings: {e}") from e


@dataclass(frozen=True)
class ClipConfig(TrainConfig):
    """Contrastive image-caption model.

        Two shapes: ``clip_model`` set = an HF ``CLIPModel`` folder or hub id (any CLIP
        checkpoint, StreetCLIP included) fine-tuned as is (``backbone`` and ``text_tower`` are
    then ignored); ``clip_model`` empty = lite
        StreetCLIP: image tower ``backbone`` + text tower ``text_tower`` ("minilm" = the
        packaged all-MiniLM-L6-v2, or an HF CLIP folder whose text model is used) + projection
        heads into ``embed_dim``. Both towers stay frozen (image features and caption embeddings are
        cached; only the heads and the temperature learn).
        ``caption_levels``: granularities a caption is drawn from, uniformly per sample.
        Zero-shot decoding keeps the ``top_countries`` best countries and then picks among
        their ``top_cities`` most populous cities.
    """

    name: str = "clip"
    clip_model: str = ""
    text_tower: str = "minilm"
    embed_dim: int = 256
    dropout: float = 0.1
    temperature: float = 0.07
    learn_temperature: bool = True
    caption_levels: tuple[str, ...] = CAPTION_LEVELS
    captions_per_sample: int = 4
    text_max_length: int = 48
    top_countries: int = 3
    top_cities: int = 30
    lr: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embed_dim < 8:
            raise ConfigError(f"embed_dim must be >= 8, got {self.embed_dim}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout must be in [0, 1)")
        if not 0.001 <= self.temperature <= 1.0:
            raise ConfigError(f"temperature must be in 0.001..1, got {self.temperature}")
        if not self.caption_levels or any(c not in CAPTION_LEVELS for c in self.caption_levels):
            raise ConfigError(f"caption_levels must be a non-empty subset of {CAPTION_LEVELS}")
        if self.captions_per_sample < 1 or self.text_max_length < 8:
            raise ConfigError("captions_per_sample >= 1 and text_max_length >= 8 required")
        if self.top_countries < 1 or self.top_cities < 1:
            raise ConfigError("top_countries and top_cities must be >= 1")

    @property
    def model_type(self) -> str:
        return "clip"

    def decoding_spec(self) -> DecodingSpec:
        """How this model's zero-shot answers are decoded (a beam of ``top_countries``
        over their ``top_cities`` cities each): what training validates with, what export
        writes into the bundle's manifest as it is."""
        return DecodingSpec(beam=self.top_countries, cities_per_country=self.top_cities)


CONFIG_TYPES: dict[str, type[TrainConfig]] = {"cnn": CnnConfig, "clip": ClipConfig}


def _coerce(cls: type[TrainConfig], key: str, value: Any) -> Any:
    hints = typing.get_type_hints(cls)
    if key not in hints:
        names = sorted(f.name for f in dataclasses.fields(cls))
        raise ConfigError(f"unknown {cls.__name__} field {key!r}; known: {', '.join(names)}")
    hint = hints[key]
    origin = typing.get_origin(hint)
    try:
        if origin is tuple:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(str(v) for v in value)
        if hint is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes"):
                    return True
                if value.lower() in ("0", "false", "no"):
                    return False
                raise ValueError(value)
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if hint is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad value for {key}: {value!r} ({e})") from e


def config_from_dict(d: dict[str, Any], model_type: str | None = None) -> TrainConfig:
    """Build a config from a JSON object; ``model_type`` (argument or key) picks the class."""
    d = dict(d)
    kind = d.pop("model_type", None) or model_type
    if model_type and kind != model_type:
        raise ConfigError(f"config is for model_type {kind!r}, not {model_type!r}")
    if kind not in CONFIG_TYPES:
        raise ConfigError(f"model_type must be one of {sorted(CONFIG_TYPES)}, got {kind!r}")
    cls = CONFIG_TYPES[kind]
    return cls(**{k: _coerce(cls, k, v) for k, v in d.items()})


def parse_override(text: str) -> tuple[str, Any]:
    """``"key=value"`` -> (key, value); value parsed as JSON when it is valid JSON."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override must look like key=value, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def load_config(
    model_type: str, path: Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """Read a config JSON (or start from defaults), apply ``key=value`` overrides."""
    d: dict[str, Any] = {}
    if path is not None:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e}") from e
        except json.JSONDecodeError as e:
            raise ConfigError(f"config {path} is not valid JSON: {e}") from e
        if not isinstance(d, dict):
            raise ConfigError(f"config {path} must hold a JSON object")
    for text in overrides:
        key, value = parse_override(text)
        d[key] = value
    return config_from_dict(d, model_type)
