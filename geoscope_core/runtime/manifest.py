"""The model bundle manifest: the only contract between export and the runtime.

A bundle is a directory (or a .zip of the same content)::

    manifest.json
    image_encoder.onnx     uint8 RGB pixels [N, H, W, 3] -> outputs named in ``outputs``
    text_encoder.onnx      optional (zero-shot bundles), with tokenizer.json
    labels/<level>.json    [{id, name, parent, lat, lon, population, country_code}]
    labels/<level>.npy     float16 [N, D] L2-normalised text embeddings (zero-shot)

The image encoder does its own normalisation (mean/std are recorded here for
reference only): the runtime resizes/crops to ``input.size`` as ``input``
(a ``PreprocessSpec``) says and feeds uint8 RGB pixels in NHWC layout.

``Manifest.from_dict`` validates everything it can without reading other
files: every value has its type and lies in its range (finite numbers only, so an
edited temperature of 0.01 or NaN is refused by name), and every path it names is a
plain relative path listed in ``files``. ``geoscope_core.runtime.bundle`` checks
hashes and shapes.
"""

from __future__ import annotations

import bisect
import enum
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from geoscope_core.errors import BundleError
from geoscope_core.fsio import sha256_file
from geoscope_core.runtime.limits import MAX_MANIFEST_BYTES, read_json

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
IMAGE_ENCODER = "image_encoder.onnx"

#: Farthest apart two points on the Earth are (km): no radius means more.
MAX_DISTANCE_KM = 20_038.0
#: Softmax temperatures a bundle may carry (the exporter fits one in 0.01..100; below
#: 0.05 every answer would read as certain).
TEMPERATURE_RANGE = (0.05, 100.0)
#: Zero-shot logit scales a bundle may carry (training clamps its own at 100).
LOGIT_SCALE_RANGE = (0.01, 100.0)
#: Most files a manifest lists, levels it has, and the widest embedding.
MAX_FILES = 256
MAX_LEVELS = 16
MAX_EMBEDDING_DIM = 16_384
#: Largest beam, top-k, refine-k, gallery cells and error-model bins.
MAX_COUNT = 1000
#: Most places a decoding prior may weigh (as many as a Bayes point searches).
MAX_PRIOR_PLACES = 4096

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _show(value: object) -> str:
    """A short text of a manifest value for an error message (never a 4000-digit number)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_number(field_name: str, value: object, lo: float, hi: float) -> None:
    """BundleError naming ``field_name`` unless ``value`` is a finite number in lo..hi."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and lo <= float(value) <= hi):  # type: ignore[arg-type]
        raise BundleError(
            f"manifest field {field_name} must be a finite number in {lo:g}..{hi:g}, "
            f"got {_show(value)}"
        )


def check_int(field_name: str, value: object, lo: int, hi: int) -> None:
    """BundleError naming ``field_name`` unless ``value`` is an integer in lo..hi."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not (ok and lo <= value <= hi):  # type: ignore[operator]
        raise BundleError(
            f"manifest field {field_name} must be an integer in {lo}..{hi}, got {_show(value)}"
        )


def _as_int(value: object, field_name: str) -> int:
    """A JSON number that is a whole number, as an int (range checks come later)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BundleError(f"manifest field {field_name} must be an integer, got {_show(value)}")
    return value


def _as_float(value: object, field_name: str) -> float:
    """A JSON number as a float; BundleError for anything else or one too large for a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BundleError(f"manifest field {field_name} must be a number, got {_show(value)}")
    try:
        return float(value)
    except OverflowError as e:
        raise BundleError(f"manifest field {field_name} is too large: {_show(value)}") from e


def _as_list(value: object, field_name: str) -> list[object]:
    """A JSON array; BundleError for anything else."""
    if not isinstance(value, list):
        raise BundleError(f"manifest field {field_name} must be a list, got {_show(value)}")
    return value


def is_plain_path(rel: object) -> bool:
    """Whether ``rel`` is a plain relative POSIX path inside a bundle: no backslashes,
    drive letters, absolute, empty, ``.`` or ``..`` parts, or control characters."""
    if not isinstance(rel, str) or not rel or "\\" in rel or ":" in rel or rel.startswith("/"):
        return False
    if any(ord(c) < 32 or ord(c) == 127 for c in rel):
        return False
    return all(p not in ("", ".", "..") for p in rel.split("/"))


def _check_path(field_name: str, rel: object) -> None:
    if not is_plain_path(rel):
        raise BundleError(
            f"manifest field {field_name} must be a plain relative path inside the bundle, "
            f"got {_show(rel)}"
        )


class BundleKind(str, enum.Enum):
    """What the image encoder produces."""

    ZERO_SHOT = "zero-shot"  # an L2-normalised embedding, scored against label text embeddings
    CLASSIFIER = "classifier"  # logits over each level's labels


class ResizeMode(str, enum.Enum):
    """How a decoded photo becomes a ``size`` x ``size`` input."""

    CENTER_CROP = "center-crop"  # resize the shorter side to ``size``, crop the centre square
    SQUASH = "squash"  # resize both sides to ``size`` ignoring aspect ratio


class Interpolation(str, enum.Enum):
    """The resampling filter that scales a photo to the encoder's input."""

    BICUBIC = "bicubic"
    BILINEAR = "bilinear"


class View(str, enum.Enum):
    """One square of a center-crop photo the image encoder sees; with several views the
    runtime averages the encoder's outputs over them (test-time augmentation)."""

    CENTER = "center"  # the centre square
    START = "start"  # the left (landscape) or top (portrait) end of the long side
    END = "end"  # the right or bottom end
    MIRROR = "mirror"  # the centre square flipped left to right


@dataclass(frozen=True)
class PreprocessSpec:
    """How a photo becomes the image encoder's input, for training and the runtime alike
    (the manifest's ``input``; ``runtime.images.preprocess`` applies it, and training's
    view 0 is made by the same function): ``size`` x ``size`` pixels by ``resize`` with
    ``interpolation``; ``mean``/``std`` (0-1 scale) are what the encoder normalises with
    inside its graph. ``views``: the squares of each photo the encoder runs on, outputs
    averaged (logits, and embeddings re-normalised); a square photo's views are the
    same pixels. Manifests written before ``interpolation`` or ``views`` were recorded
    were all made and read bicubic with one centre view, the defaults."""

    size: int = 224
    resize: ResizeMode = ResizeMode.CENTER_CROP
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: Interpolation = Interpolation.BICUBIC
    views: tuple[View, ...] = (View.CENTER,)

    @property
    def pixels_id(self) -> str:
        """Names how the pixels are made (not their size), e.g. for a feature cache key."""
        key = f"runtime.load_image/{self.resize.value}/{self.interpolation.value}"
        if self.views != (View.CENTER,):
            key += "/" + "+".join(v.value for v in self.views)
        return key

    def centre_view(self) -> PreprocessSpec:
        """This spec with its centre view alone (one encoder input per photo)."""
        return replace(self, views=(View.CENTER,))

    def __post_init__(self) -> None:
        check_int("input.size", self.size, 16, 1024)
        try:
            views = tuple(View(v) for v in self.views)
        except ValueError as e:
            raise BundleError(f"input.views: {e}; choose from {[v.value for v in View]}") from e
        object.__setattr__(self, "views", views)
        if not views or len(set(views)) != len(views):
            raise BundleError(f"input.views must name distinct views, got {list(self.views)}")
        if self.resize is ResizeMode.SQUASH and views != (View.CENTER,):
            raise BundleError("input.views other than center need resize center-crop")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise BundleError("manifest fields input.mean and input.std need 3 values each")
        for i, (mean, std) in enumerate(zip(self.mean, self.std, strict=True)):
            check_number(f"input.mean[{i}]", mean, 0.0, 1.0)
            check_number(f"input.std[{i}]", std, 1e-3, 1.0)


@dataclass(frozen=True)
class LevelSpec:
    """One level of the label hierarchy (e.g. country, admin1, city, cell).

    ``labels``: path of the labels JSON inside the bundle. ``embeddings``: path of
    the float16 [N, D] text embeddings (zero-shot bundles). ``output``: name of the
    image encoder output holding this level's logits [N, len(labels)]
    (classifier bundles). ``parent``: the level whose ids the labels' ``parent``
    field refers to (None for the top level).
    """

    name: str
    labels: str
    embeddings: str | None = None
    output: str | None = None
    parent: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.replace("_", "").isalnum():
            raise BundleError(f"invalid level name {_show(self.name)}")
        if len(self.name) > 64:
            raise BundleError(f"level name {self.name[:64]!r}... is longer than 64 characters")
        _check_path(f"levels.{self.name}.labels", self.labels)
        if self.embeddings is not None:
            _check_path(f"levels.{self.name}.embeddings", self.embeddings)
        for key in ("output", "parent"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise BundleError(f"manifest field levels.{self.name}.{key} must be a name")


@dataclass(frozen=True)
class TextEncoderSpec:
    """Optional text encoder for label sets added at run time.

    Inputs ``input_ids`` and ``attention_mask`` (int64 [N, L]); output
    ``embedding`` float32 [N, D], L2-normalised.
    """

    file: str = "text_encoder.onnx"
    tokenizer: str = "tokenizer.json"
    max_length: int = 64
    templates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_path("text_encoder.file", self.file)
        _check_path("text_encoder.tokenizer", self.tokenizer)
        check_int("text_encoder.max_length", self.max_length, 1, 4096)
        if len(self.templates) > MAX_COUNT or not all(isinstance(t, str) for t in self.templates):
            raise BundleError(f"manifest field text_encoder.templates: at most {MAX_COUNT} texts")


@dataclass(frozen=True)
class ErrorModel:
    """Maps a prediction's calibrated confidence to an error radius in km.

    ``confidence`` ascending bin edges, ``radius_km`` (same length) the error radius
    measured on labelled photos whose confidence falls in the bin starting at that
    edge (the exporter's ``error_model``: the 0.68 quantile of their errors).
    """

    confidence: tuple[float, ...]
    radius_km: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.confidence) != len(self.radius_km) or not self.confidence:
            raise BundleError("error_model.confidence and radius_km must be equal, non-empty")
        if len(self.confidence) > MAX_COUNT:
            raise BundleError(f"error_model has more than {MAX_COUNT} bins")
        for i, (c, r) in enumerate(zip(self.confidence, self.radius_km, strict=True)):
            check_number(f"error_model.confidence[{i}]", c, 0.0, 1.0)
            check_number(f"error_model.radius_km[{i}]", r, 0.0, MAX_DISTANCE_KM)
        if any(b < a for a, b in zip(self.confidence, self.confidence[1:], strict=False)):
            raise BundleError("manifest field error_model.confidence must be ascending")

    def radius(self, confidence: float) -> float:
        """The radius of the bin ``confidence`` falls in (below the first edge: the first)."""
        i = bisect.bisect_right(self.confidence, confidence) - 1
        return float(self.radius_km[max(i, 0)])


class Refine(str, enum.Enum):
    """Where an estimate's point lies among the decoded candidates."""

    TOP = "top"  # the best candidate's place
    WEIGHTED = "weighted"  # probability-weighted mean of the best ``refine_k`` nearby


class Point(str, enum.Enum):
    """Which point of the posterior an estimate answers (``runtime.decoding``)."""

    MODE = "mode"  # the most likely hypothesis (then ``refine`` and the gallery)
    MIN_EXPECTED_DISTANCE = "min_expected_distance"  # Bayes point for great-circle loss
    MAX_EXPECTED_GEOSCORE = "max_expected_geoscore"  # Bayes point for 5000*exp(-d/1492.7)
    MAX_MASS_WITHIN = "max_mass_within"  # Bayes point for the 0/1 loss "farther than within_km"


@dataclass(frozen=True)
class DecodingSpec:
    """How the runtime decodes a bundle's logits (``runtime.decoding``).

    ``level``: the finest level decoded (None = the last level); ``beam``: hypotheses
    kept per level; ``top_k``: candidates reported; ``refine``: TOP or WEIGHTED;
    ``refine_k`` candidates within ``refine_radius_km`` (km) of the best are averaged
    by WEIGHTED; ``min_radius_km``: the smallest error radius (km) when the bundle has
    no error model; ``gallery``: the bundle file of a gallery of training photos
    (``runtime.gallery``) that refines the answer inside the ``gallery_top_cells`` most
    likely cells, None = no gallery; ``gallery_min_similarity``: the gallery answers only
    when its most similar photo is at least that similar (cosine in the gallery's space;
    -1 = always); for a Bayes ``point`` it is the gate at which a near copy's gallery
    place overrides the Bayes point (``runtime.decoding``). ``unsure_below``: an answer
    whose confidence is below it is marked unsure and names no place, not even a country
    (``Prediction.unsure``; 0 = never).
    ``point``: MODE answers the most likely hypothesis; MIN_EXPECTED_DISTANCE /
    MAX_EXPECTED_GEOSCORE answer the finest-level place minimising the posterior's
    expected distance / maximising its expected GeoScore (a central answer when the
    posterior is flat, the mode when it is peaked); MAX_MASS_WITHIN answers the place
    holding the most posterior mass within ``within_km`` (km) of it, the Bayes decision
    for the loss "farther than ``within_km``" (the densest region of the places when the
    posterior is flat, the mode when it is peaked). ``prior_mix``: a Bayes point decides
    on the tempered posterior mixed with ``prior_mix`` of the training ``prior`` (the
    share of the training photos of each place of the decoding level, summing to 1): a
    photo the model cannot read answers where photos are, not where places are dense
    (0 = the posterior alone; MODE ignores it). The defaults are what bundles that name
    no value get (old manifests: MODE).
    """

    level: str | None = None
    beam: int = 5
    top_k: int = 5
    refine: Refine = Refine.TOP
    refine_k: int = 5
    refine_radius_km: float = 500.0
    min_radius_km: float = 25.0
    cities_per_country: int | None = None  # zero-shot: cities per country in the city level
    gallery: str | None = None
    gallery_top_cells: int = 5
    gallery_min_similarity: float = -1.0
    unsure_below: float = 0.0
    point: Point = Point.MODE
    within_km: float = 2500.0
    prior_mix: float = 0.0
    prior: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for key in ("beam", "top_k", "refine_k", "gallery_top_cells"):
            check_int(f"decoding.{key}", getattr(self, key), 1, MAX_COUNT)
        check_number("decoding.refine_radius_km", self.refine_radius_km, 0.0, MAX_DISTANCE_KM)
        check_number("decoding.min_radius_km", self.min_radius_km, 0.01, MAX_DISTANCE_KM)
        check_number("decoding.gallery_min_similarity", self.gallery_min_similarity, -1.0, 1.0)
        check_number("decoding.unsure_below", self.unsure_below, 0.0, 1.0)
        check_number("decoding.within_km", self.within_km, 1.0, MAX_DISTANCE_KM)
        check_number("decoding.prior_mix", self.prior_mix, 0.0, 1.0)
        if not isinstance(self.prior, tuple) or len(self.prior) > MAX_PRIOR_PLACES:
            raise BundleError(
                f"manifest field decoding.prior must be a list of at most {MAX_PRIOR_PLACES} "
                f"numbers, got {_show(self.prior)}"
            )
        for x in self.prior:
            check_number("decoding.prior", x, 0.0, 1.0)
        if self.prior and abs(sum(self.prior) - 1.0) > 1e-3:
            raise BundleError(f"manifest field decoding.prior must sum to 1, got {sum(self.prior)}")
        if self.prior_mix > 0 and not self.prior:
            raise BundleError("manifest field decoding.prior_mix > 0 needs decoding.prior")
        if self.cities_per_country is not None:
            check_int("decoding.cities_per_country", self.cities_per_country, 1, 100_000)
        if self.level is not None and not isinstance(self.level, str):
            raise BundleError(f"manifest field decoding.level must be a level name: {self}")
        if self.gallery is not None:
            _check_path("decoding.gallery", self.gallery)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["refine"] = self.refine.value
        d["point"] = self.point.value
        d["prior"] = list(self.prior)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecodingSpec:
        """Parse a manifest's ``decoding`` object; unknown keys are refused."""
        if not isinstance(d, dict):
            raise BundleError(f"decoding must be an object, got {type(d).__name__}")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise BundleError(f"unknown decoding keys: {sorted(unknown)}")

        def num(key: str, default: float) -> float:
            return _as_float(d.get(key, default), f"decoding.{key}")

        def whole(key: str, default: int) -> int:
            return _as_int(d.get(key, default), f"decoding.{key}")

        try:
            return cls(
                level=d.get("level"),
                beam=whole("beam", cls.beam),
                top_k=whole("top_k", cls.top_k),
                refine=Refine(d.get("refine", cls.refine.value)),
                refine_k=whole("refine_k", cls.refine_k),
                refine_radius_km=num("refine_radius_km", cls.refine_radius_km),
                min_radius_km=num("min_radius_km", cls.min_radius_km),
                cities_per_country=(
                    None if d.get("cities_per_country") is None else whole("cities_per_country", 0)
                ),
                gallery=d.get("gallery"),
                gallery_top_cells=whole("gallery_top_cells", cls.gallery_top_cells),
                gallery_min_similarity=num("gallery_min_similarity", cls.gallery_min_similarity),
                unsure_below=num("unsure_below", cls.unsure_below),
                point=Point(d.get("point", cls.point.value)),
                within_km=num("within_km", cls.within_km),
                prior_mix=num("prior_mix", cls.prior_mix),
                prior=tuple(
                    _as_float(x, "decoding.prior") for x in _as_list(d.get("prior", []), "prior")
                ),
            )
        except (TypeError, ValueError) as e:
            raise BundleError(f"malformed decoding {d!r}: {e}") from e


@dataclass(frozen=True)
class Manifest:
    """Parsed ``manifest.json``. ``files`` maps bundle-relative path -> sha256 hex."""

    name: str
    kind: BundleKind
    input: PreprocessSpec
    levels: tuple[LevelSpec, ...]
    files: dict[str, str]
    embedding_dim: int = 0
    logit_scale: float = 1.0
    temperature: float = 1.0
    outputs: dict[str, str] = field(default_factory=lambda: {"embedding": "embedding"})
    text_encoder: TextEncoderSpec | None = None
    error_model: ErrorModel | None = None
    decoding: DecodingSpec = field(default_factory=DecodingSpec)
    producer: dict[str, str] = field(default_factory=dict)
    quantization: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.format_version != FORMAT_VERSION:
            raise BundleError(
                f"unknown bundle format_version {_show(self.format_version)} "
                f"(this GeoScope reads {FORMAT_VERSION})"
            )
        if (
            not isinstance(self.name, str)
            or not 1 <= len(self.name) <= 128
            or any(c in self.name for c in "/\\@")
            or any(ord(c) < 32 or ord(c) == 127 for c in self.name)
        ):
            raise BundleError(
                f"manifest field name must be 1..128 characters without '/', '\\', '@' or "
                f"control characters, got {_show(self.name)}"
            )
        if not self.levels or len(self.levels) > MAX_LEVELS:
            raise BundleError(f"a bundle needs 1..{MAX_LEVELS} levels, not {len(self.levels)}")
        if len(self.files) > MAX_FILES:
            raise BundleError(f"manifest lists {len(self.files)} files, more than {MAX_FILES}")
        check_int("embedding_dim", self.embedding_dim, 0, MAX_EMBEDDING_DIM)
        check_number("temperature", self.temperature, *TEMPERATURE_RANGE)
        check_number("logit_scale", self.logit_scale, *LOGIT_SCALE_RANGE)
        if not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in self.outputs.items()
        ):
            raise BundleError(
                f"manifest field outputs must map roles to output names: {_show(self.outputs)}"
            )
        names = [lv.name for lv in self.levels]
        if len(set(names)) != len(names):
            raise BundleError(f"duplicate level names: {names}")
        for lv in self.levels:
            if lv.parent is not None and lv.parent not in names:
                raise BundleError(f"level {lv.name!r} has unknown parent level {lv.parent!r}")
            if self.kind is BundleKind.ZERO_SHOT and not lv.embeddings:
                raise BundleError(f"zero-shot level {lv.name!r} has no embeddings file")
            if self.kind is BundleKind.CLASSIFIER and not lv.output:
                raise BundleError(f"classifier level {lv.name!r} names no encoder output")
        if self.kind is BundleKind.ZERO_SHOT and self.embedding_dim <= 0:
            raise BundleError("a zero-shot bundle needs embedding_dim > 0")
        if self.decoding.level is not None and self.decoding.level not in names:
            raise BundleError(f"decoding level {self.decoding.level!r} is not a level: {names}")
        if IMAGE_ENCODER not in self.files:
            raise BundleError("manifest lists no image_encoder.onnx")

    def check_files(self) -> None:
        """BundleError unless ``files`` maps plain relative paths to sha256 hex digests and
        lists every file the manifest names (labels, embeddings, gallery): what a bundle
        on disk must satisfy (an in-memory manifest of training lists no files)."""
        for rel, digest in self.files.items():
            _check_path(f"files[{_show(rel)}]", rel)
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise BundleError(f"manifest field files[{rel!r}] must be a sha256 hex digest")
        named: dict[str, str | None] = {f"levels.{lv.name}.labels": lv.labels for lv in self.levels}
        named |= {f"levels.{lv.name}.embeddings": lv.embeddings for lv in self.levels}
        named["decoding.gallery"] = self.decoding.gallery
        for key, named_rel in named.items():
            if named_rel is not None and named_rel not in self.files:
                raise BundleError(
                    f"manifest field {key} names {named_rel!r}, which files does not list"
                )

    @property
    def decoding_level(self) -> str:
        """The level answers are decoded at: ``decoding.level``, else the finest level."""
        return self.decoding.level or self.levels[-1].name

    def level(self, name: str) -> LevelSpec:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise BundleError(f"bundle {self.name!r} has no level {name!r}")

    # -- (de)serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        d["input"]["resize"] = self.input.resize.value
        d["input"]["interpolation"] = self.input.interpolation.value
        d["input"]["views"] = [v.value for v in self.input.views]
        d["decoding"] = self.decoding.to_dict()
        return {"format_version": d.pop("format_version"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        """Parse and validate a manifest document (as ``read`` loads it); BundleError
        naming the field for any value of the wrong type or out of its range."""
        try:
            inp = dict(d.get("input", {}))
            if "size" in inp:
                inp["size"] = _as_int(inp["size"], "input.size")
            if "resize" in inp:
                inp["resize"] = ResizeMode(inp["resize"])
            if "interpolation" in inp:
                inp["interpolation"] = Interpolation(inp["interpolation"])
            for key in ("mean", "std", "views"):
                if key in inp:
                    inp[key] = tuple(inp[key])
            te = d.get("text_encoder")
            em = d.get("error_model")
            manifest = cls(
                format_version=d.get("format_version", -1),
                name=str(d["name"]),
                kind=BundleKind(d["kind"]),
                input=PreprocessSpec(**inp),
                levels=tuple(LevelSpec(**lv) for lv in d["levels"]),
                files=dict(d["files"]),
                embedding_dim=_as_int(d.get("embedding_dim", 0), "embedding_dim"),
                logit_scale=_as_float(d.get("logit_scale", 1.0), "logit_scale"),
                temperature=_as_float(d.get("temperature", 1.0), "temperature"),
                outputs=dict(d.get("outputs", {"embedding": "embedding"})),
                text_encoder=(
                    TextEncoderSpec(**{**te, "templates": tuple(te.get("templates", ()))})
                    if te
                    else None
                ),
                error_model=(
                    ErrorModel(tuple(em["confidence"]), tuple(em["radius_km"])) if em else None
                ),
                decoding=DecodingSpec.from_dict(d.get("decoding") or {}),
                producer=dict(d.get("producer", {})),
                quantization=dict(d.get("quantization", {})),
                metrics=dict(d.get("metrics", {})),
                description=str(d.get("description", "")),
            )
        except BundleError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise BundleError(f"malformed manifest: {e!r}"[:300]) from e
        manifest.check_files()
        return manifest

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read and validate ``manifest.json`` (no hash checks; see ``bundle.load_bundle``)."""
        return cls.from_dict(read_manifest_doc(path))

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def read_manifest_doc(path: Path) -> dict[str, Any]:
    """The JSON object in ``manifest.json`` at ``path``, within ``runtime.limits``'s bounds."""
    data = read_json(Path(path), "manifest", MAX_MANIFEST_BYTES)
    if not isinstance(data, dict):
        raise BundleError(f"manifest {path} is not a JSON object")
    return data


def level_specs(
    kind: BundleKind, rows: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[LevelSpec, ...]:
    """The levels of a bundle holding label ``rows`` per level (in hierarchy order, top
    first), at the bundle's conventional paths: ``labels/<level>.json``, and
    ``labels/<level>.npy`` (zero-shot) or the encoder output ``logits_<level>``
    (classifier). A level's parent is the closest level above whose ids all its rows'
    ``parent`` fields name (None when there is none)."""
    levels: list[LevelSpec] = []
    previous: list[tuple[str, set[object]]] = []
    for name, level_rows in rows.items():
        parents = {row.get("parent") for row in level_rows}
        parent = next((lv for lv, ids in reversed(previous) if parents and parents <= ids), None)
        zero_shot = kind is BundleKind.ZERO_SHOT
        levels.append(
            LevelSpec(
                name=name,
                labels=f"labels/{name}.json",
                embeddings=f"labels/{name}.npy" if zero_shot else None,
                output=None if zero_shot else f"logits_{name}",
                parent=parent,
            )
        )
        previous.append((name, {row.get("id") for row in level_rows}))
    return tuple(levels)


def hash_bundle_files(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except the manifest, keyed by POSIX relative path."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }
