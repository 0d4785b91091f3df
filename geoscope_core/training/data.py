"""Training data: records, photo views (clean and augmented) and the feature cache.

A *view* of a photo is a ``size`` x ``size`` uint8 RGB crop. View 0 is the plain
centre crop the runtime uses, made by the runtime's own ``preprocess`` (shorter
side resized to ``size`` with the same resampling, centre square);
views 1.. are augmented deterministically from (seed, photo, view): a random
resized crop (area fraction ``aug_scale_min``..1, aspect 3/4..4/3) and mild
brightness / contrast / saturation jitter. There is no horizontal flip unless
``hflip`` is asked for: a mirrored street drives on the other side and mirrors
text, both strong location cues.

While the backbone is frozen, each (photo, view) is encoded once and cached as
``.npy`` under the feature cache folder, keyed by the backbone, its weights, the
view recipe and the photo's path, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

from geoscope_core import settings
from geoscope_core.errors import DataError, ImageDecodeError, TrainingError
from geoscope_core.runtime.images import preprocess
from geoscope_core.runtime.manifest import PreprocessSpec
from geoscope_core.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One labelled photo: ``lat``/``lon`` in degrees, ISO alpha-2 ``country_code``, the
    data ``set`` and ``scope`` it belongs to ("" when the labels do not say)."""

    path: Path
    lat: float
    lon: float
    country_code: str = ""
    set: str = ""
    scope: str = ""


def load_samples(config: TrainConfig, split: str) -> list[Sample]:
    """Records of ``split`` from ``config.data`` (or the shared geo set), as samples.

    The training split drops ``config.exclude_countries``; ``max_train``/``max_val``
    keep an evenly spaced subset (deterministic).
    """
    from geoscope_core.records import read_labels_csv, shared_geo_records

    if config.data:
        records, problems = read_labels_csv(Path(config.data))
        for p in problems[:5]:
            log.warning("skipped %s: %s", p.where, p.reason)
        records = [r for r in records if r.split == split]
    else:
        records = shared_geo_records(split)
    samples = [
        Sample(Path(r.path), float(r.lat), float(r.lon), r.country_code, r.set, r.scope)
        for r in records
    ]
    return _limit(config, split, samples)


def _limit(config: TrainConfig, split: str, samples: list[Sample]) -> list[Sample]:
    limit = config.max_val
    if split == config.train_split:
        excluded = set(config.exclude_countries)
        samples = [s for s in samples if s.country_code not in excluded]
        limit = config.max_train
    if limit and len(samples) > limit:
        idx = np.linspace(0, len(samples) - 1, limit).round().astype(int)
        samples = [samples[i] for i in idx]
    if not samples:
        raise DataError(f"no {split!r} records in {config.data or 'the shared geo data'}")
    return samples


@dataclass(frozen=True)
class ViewRecipe:
    """How views are made (``key()`` is part of the feature cache key). ``size`` in pixels."""

    size: int
    scale_min: float = 0.6
    color_jitter: float = 0.2
    hflip: bool = False
    seed: int = 0
    #: How view 0 is made (``view0``'s ``pixels_id``): named here so features cached
    #: from other pixels are never reused.
    centre_crop: str = PreprocessSpec().pixels_id
    #: View 0's preprocessing: the model's input spec (None: the runtime's default at
    #: ``size``); in the key as ``size`` and ``centre_crop``.
    pixels: PreprocessSpec | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.pixels is not None and (self.pixels.size, self.pixels.pixels_id) != (
            self.size,
            self.centre_crop,
        ):
            raise TrainingError(f"view recipe of size {self.size} given pixels {self.pixels}")

    @property
    def view0(self) -> PreprocessSpec:
        """View 0's preprocessing: the model's input spec, which export writes into the
        bundle's manifest for the runtime."""
        return self.pixels if self.pixels is not None else PreprocessSpec(size=self.size)

    def key(self) -> dict[str, object]:
        """The fields that name the views' pixels (all but ``pixels``, which they spell)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pixels"}

    @classmethod
    def of(cls, config: TrainConfig, pixels: PreprocessSpec) -> ViewRecipe:
        """The recipe of ``config``'s augmentations, view 0 made as ``pixels`` says."""
        return cls(
            pixels.size,
            config.aug_scale_min,
            config.color_jitter,
            config.hflip,
            config.seed,
            centre_crop=pixels.pixels_id,
            pixels=pixels,
        )


def _rng_for(recipe: ViewRecipe, path: Path, view: int) -> np.random.Generator:
    digest = hashlib.sha1(f"{recipe.seed}|{path.name}|{view}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def make_view(path: Path, view: int, recipe: ViewRecipe) -> np.ndarray:
    """uint8 [size, size, 3] RGB view ``view`` of the photo at ``path``. View 0 is the
    runtime's centre crop, decoded by the runtime's own loader (so a model trains and is
    validated on exactly the pixels it is given when it runs)."""
    if view == 0:
        try:
            # a writable copy: torch.from_numpy warns on the decoder's read-only array
            return np.array(preprocess(path, recipe.view0)[0])
        except ImageDecodeError as e:
            raise DataError(f"cannot decode {path}: {e}") from e
    try:
        with Image.open(path) as src:
            src.draft("RGB", (recipe.size * 2, recipe.size * 2))
            im = ImageOps.exif_transpose(src).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot decode {path}: {e}") from e
    s = recipe.size
    w, h = im.size
    rng = _rng_for(recipe, path, view)
    area = w * h * rng.uniform(recipe.scale_min, 1.0)
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    cw = int(min(w, round(np.sqrt(area * aspect))))
    ch = int(min(h, round(np.sqrt(area / aspect))))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    im = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((s, s), Image.Resampling.BILINEAR)
    j = recipe.color_jitter
    if j > 0:
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            im = enhancer(im).enhance(float(rng.uniform(1 - j, 1 + j)))
    if recipe.hflip and rng.random() < 0.5:
        im = ImageOps.mirror(im)
    return np.array(im, dtype=np.uint8)


class ViewDataset(torch.utils.data.Dataset):
    """(photo index, view) pairs -> (uint8 tensor [S, S, 3], pair index)."""

    def __init__(
        self, paths: Sequence[Path], pairs: Sequence[tuple[int, int]], recipe: ViewRecipe
    ) -> None:
        self.paths = list(paths)
        self.pairs = list(pairs)
        self.recipe = recipe

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        photo, view = self.pairs[i]
        return torch.from_numpy(make_view(self.paths[photo], view, self.recipe)), i


class RandomViewDataset(torch.utils.data.Dataset):
    """Photo index -> (uint8 [S, S, 3] of a fresh augmented view, index) for fine-tuning."""

    def __init__(self, paths: Sequence[Path], recipe: ViewRecipe, epoch: int) -> None:
        self.paths = list(paths)
        self.recipe = recipe
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        view = 1 + (self.epoch * 7919 + i) % 1_000_003
        return torch.from_numpy(make_view(self.paths[i], view, self.recipe)), i


class FeatureCache:
    """Frozen-backbone features per (photo, view), cached as ``.npy`` float16 [F].

    ``key`` identifies the backbone, weights and view recipe; the folder is
    ``root/key``. Files are written atomically, so ranks of a distributed run may
    share the cache. ``parts``: for a concatenated backbone ``A+B``, each branch's
    (key, feature dim): each branch's slice lives in that branch's own folder, so a
    branch encoded alone before is read back instead of encoded again.
    """

    def __init__(self, root: Path, key: str, parts: Sequence[tuple[str, int]] = ()) -> None:
        self.folder = Path(root) / key
        self.parts = [(Path(root) / k, dim) for k, dim in parts] or [(self.folder, 0)]

    @staticmethod
    def make_key(backbone: str, weights: str, recipe: ViewRecipe) -> str:
        text = json.dumps([backbone, weights, recipe.key()], sort_keys=True, default=str)
        return f"{backbone}-{recipe.size}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"

    def files_for(self, path: Path, view: int) -> list[Path]:
        """The cache files of ``path``'s view ``view``: one per part."""
        try:
            st = path.stat()
        except OSError as e:
            raise DataError(f"photo not found: {path}") from e
        ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        name = f"{hashlib.sha1(ident.encode()).hexdigest()}_v{view}.npy"
        return [folder / name for folder, _ in self.parts]

    def _save(self, files: list[Path], row: np.ndarray) -> None:
        bounds = np.cumsum([0] + [dim for _, dim in self.parts])
        for k, f in enumerate(files):
            piece = row if len(files) == 1 else row[bounds[k] : bounds[k + 1]]
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, piece.astype(np.float16))
            tmp.replace(f)

    def encode(
        self,
        paths: Sequence[Path],
        views: int,
        recipe: ViewRecipe,
        encoder: Callable[[torch.Tensor], torch.Tensor],
        batch_size: int = 32,
        num_workers: int = 0,
        rank: int = 0,
        world: int = 1,
        progress: bool = False,
        barrier: Callable[[], None] | None = None,
    ) -> np.ndarray:
        """Features float32 [len(paths), views, F], computing what the cache lacks.

        ``encoder`` maps uint8 [B, S, S, 3] to features [B, F]. In a distributed run
        each rank encodes its share of the missing items, then all read the cache.
        """
        files = [[self.files_for(p, v) for v in range(views)] for p in paths]
        if barrier is not None:  # every rank must see the same cache state to split the work
            barrier()
        missing = [
            (i, v)
            for i in range(len(paths))
            for v in range(views)
            if not all(f.is_file() for f in files[i][v])
        ]
        if barrier is not None:  # nobody writes before every rank has listed
            barrier()
        mine = missing[rank::world]
        if mine:
            log.info("encoding %d views (%d cached)", len(mine), len(paths) * views - len(missing))
            loader = torch.utils.data.DataLoader(
                ViewDataset(paths, mine, recipe), batch_size=batch_size, num_workers=num_workers
            )
            from tqdm import tqdm

            for pixels, idx in tqdm(loader, desc="features", disable=not progress, leave=False):
                with torch.no_grad():
                    feats = encoder(pixels).float().cpu().numpy()
                for row, j in zip(feats, idx.tolist(), strict=True):
                    i, v = mine[j]
                    self._save(files[i][v], row)
        if barrier is not None:
            barrier()
        try:
            rows = [[np.concatenate([np.load(f) for f in fs]) for fs in row] for row in files]
            return np.stack([np.stack(r) for r in rows]).astype(np.float32)
        except (OSError, ValueError) as e:
            raise TrainingError(f"feature cache {self.folder} is damaged: {e}") from e


def feature_cache_root(config: TrainConfig) -> Path:
    """``config.feature_cache`` or ``settings.cache_dir()/"features"``."""
    return Path(config.feature_cache) if config.feature_cache else settings.cache_dir() / "features"


def backbone_weights_id(config: TrainConfig) -> str:
    """Which weights ``config.backbone`` carries, as the feature cache key names them: the
    weights file, "pretrained", or "random-seed<seed>" (random weights follow the seed)."""
    if config.backbone_weights:
        return config.backbone_weights
    return "pretrained" if config.pretrained else f"random-seed{config.seed}"


def feature_cache_for(
    config: TrainConfig,
    recipe: ViewRecipe,
    image_id: tuple[str, str] | None = None,
    part_dims: Sequence[int] = (),
) -> FeatureCache:
    """The cache of the features that ``config``'s frozen backbone makes of ``recipe``'s views.

    ``image_id``: (tower name, weights id) of another image tower (an HF CLIP).
    ``part_dims``: a concatenated backbone's branch feature dims (``Backbone.part_dims``).
    """
    name, weights = image_id or (config.backbone, backbone_weights_id(config))
    root = feature_cache_root(config)
    parts: list[tuple[str, int]] = []
    if len(part_dims) > 1 and weights == "pretrained":  # random branches differ when joined
        names = name.split("+")
        if len(names) != len(part_dims):
            raise TrainingError(f"backbone {name!r} has {len(part_dims)} parts")
        keys = [FeatureCache.make_key(n, weights, recipe) for n in names]
        parts = list(zip(keys, part_dims, strict=True))
    return FeatureCache(root, FeatureCache.make_key(name, weights, recipe), parts)
