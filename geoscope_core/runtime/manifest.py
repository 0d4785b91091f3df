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
files; ``geoscope_core.runtime.bundle`` checks hashes and shapes.
"""

from __future__ import annotations

import bisect
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from geoscope_core.errors import BundleError
from geoscope_core.fsio import sha256_file

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
IMAGE_ENCODER = "image_encoder.onnx"


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
        if not 16 <= self.size <= 1024:
            raise BundleError(f"input.size must be in 16..1024, got {self.size}")
        try:
            views = tuple(View(v) for v in self.views)
        except ValueError as e:
            raise BundleError(f"input.views: {e}; choose from {[v.value for v in View]}") from e
        object.__setattr__(self, "views", views)
        if not views or len(set(views)) != len(views):
            raise BundleError(f"input.views must name distinct views, got {list(self.views)}")
        if self.resize is ResizeMode.SQUASH and views != (View.CENTER,):
            raise BundleError("input.views other than center need resize center-crop")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise BundleError("input.mean and input.std need 3 values, std > 0")


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
        if not self.name or not self.name.replace("_", "").isalnum():
            raise BundleError(f"invalid level name {self.name!r}")


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
    -1 = always). ``unsure_below``: an answer whose confidence is below it is marked unsure
    and names no town (``Prediction.unsure``; 0 = never). ``point``: MODE answers the
    most likely hypothesis; MIN_EXPECTED_DISTANCE / MAX_EXPECTED_GEOSCORE answer the
    finest-level place minimising the posterior's expected distance / maximising its
    expected GeoScore (a central answer when the posterior is flat, the mode when it is
    peaked). The defaults are what bundles that name no value get (old manifests: MODE).
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

    def __post_init__(self) -> None:
        if not 1 <= self.beam <= 1000 or not 1 <= self.top_k <= 1000:
            raise BundleError(f"decoding beam and top_k must be in 1..1000: {self}")
        if not 1 <= self.refine_k <= 1000:
            raise BundleError(f"decoding refine_k must be in 1..1000, got {self.refine_k}")
        if not (self.refine_radius_km >= 0 and self.min_radius_km >= 0):
            raise BundleError("decoding refine_radius_km and min_radius_km must be >= 0")
        if self.gallery_top_cells < 1:
            raise BundleError(f"decoding gallery_top_cells must be >= 1: {self}")
        if not (-1.0 <= self.gallery_min_similarity <= 1.0 and 0.0 <= self.unsure_below <= 1.0):
            raise BundleError("decoding gallery_min_similarity must be in -1..1, unsure_below 0..1")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["refine"] = self.refine.value
        d["point"] = self.point.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecodingSpec:
        """Parse a manifest's ``decoding`` object; unknown keys are refused."""
        if not isinstance(d, dict):
            raise BundleError(f"decoding must be an object, got {type(d).__name__}")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise BundleError(f"unknown decoding keys: {sorted(unknown)}")
        try:
            return cls(
                level=None if d.get("level") is None else str(d["level"]),
                beam=int(d.get("beam", cls.beam)),
                top_k=int(d.get("top_k", cls.top_k)),
                refine=Refine(d.get("refine", cls.refine.value)),
                refine_k=int(d.get("refine_k", cls.refine_k)),
                refine_radius_km=float(d.get("refine_radius_km", cls.refine_radius_km)),
                min_radius_km=float(d.get("min_radius_km", cls.min_radius_km)),
                cities_per_country=(
                    None if d.get("cities_per_country") is None else int(d["cities_per_country"])
                ),
                gallery=None if d.get("gallery") is None else str(d["gallery"]),
                gallery_top_cells=int(d.get("gallery_top_cells", cls.gallery_top_cells)),
                gallery_min_similarity=float(
                    d.get("gallery_min_similarity", cls.gallery_min_similarity)
                ),
                unsure_below=float(d.get("unsure_below", cls.unsure_below)),
                point=Point(d.get("point", cls.point.value)),
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
                f"unknown bundle format_version {self.format_version} "
                f"(this GeoScope reads {FORMAT_VERSION})"
            )
        if not self.levels:
            raise BundleError("a bundle needs at least one level")
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
        if self.temperature <= 0 or self.logit_scale <= 0:
            raise BundleError("temperature and logit_scale must be > 0")
        if self.decoding.level is not None and self.decoding.level not in names:
            raise BundleError(f"decoding level {self.decoding.level!r} is not a level: {names}")
        if IMAGE_ENCODER not in self.files:
            raise BundleError("manifest lists no image_encoder.onnx")

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
        try:
            inp = dict(d.get("input", {}))
            if "resize" in inp:
                inp["resize"] = ResizeMode(inp["resize"])
            if "interpolation" in inp:
                inp["interpolation"] = Interpolation(inp["interpolation"])
            for key in ("mean", "std", "views"):
                if key in inp:
                    inp[key] = tuple(inp[key])
            te = d.get("text_encoder")
            em = d.get("error_model")
            return cls(
                format_version=int(d.get("format_version", -1)),
                name=str(d["name"]),
                kind=BundleKind(d["kind"]),
                input=PreprocessSpec(**inp),
                levels=tuple(LevelSpec(**lv) for lv in d["levels"]),
                files=dict(d["files"]),
                embedding_dim=int(d.get("embedding_dim", 0)),
                logit_scale=float(d.get("logit_scale", 1.0)),
                temperature=float(d.get("temperature", 1.0)),
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
        except (KeyError, TypeError, ValueError) as e:
            raise BundleError(f"malformed manifest: {e!r}") from e

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read and validate ``manifest.json`` (no hash checks; see ``bundle.load_bundle``)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise BundleError(f"no manifest.json at {path}") from e
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BundleError(f"unreadable manifest {path}: {e}") from e
        if not isinstance(data, dict):
            raise BundleError(f"manifest {path} is not a JSON object")
        return cls.from_dict(data)

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


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
