"""Load and verify model bundles (see ``geoscope_core.runtime.manifest`` for the format).

A bundle is a directory or a .zip of the same content. A zip is extracted once
into ``settings.cache_dir()/bundles/<sha256 of the zip>`` and reused. Loading
verifies the sha256 of every file the manifest lists, the format version, and
the shapes of label files and embeddings; ``check_bundle`` additionally opens
the ONNX graphs and checks their input/output names and shapes, and lists every
problem instead of stopping at the first.

A bundle's identity is the sha256 of its canonical manifest (keys sorted, no
whitespace), which lists the sha256 of every other file: any edit to a setting
(a temperature, a label file and its hash) gives another model id. Users pin
the id they trust (``geoscope scan --model-id``, ``bundle check --model-id``);
the shipped default bundle is pinned by the code itself
(``settings.DEFAULT_MODEL_SHA256``), so an edited copy of it is refused.
Every file in the bundle must be listed (hidden ones too), and a zip whose
entry names are not plain relative POSIX paths is refused.

``bundle_problems`` is the one verification: ``load_bundle`` (what scan, eval and
the app load through) raises on its problems and ``check_bundle`` (``geoscope
bundle check``) lists them, adding only the ONNX graphs' inputs and outputs. Files
are read within ``runtime.limits``: JSON and array headers are checked before any
array is allocated.
"""

from __future__ import annotations

import json
import logging
import stat
from dataclasses import dataclass, field
from hashlib import sha256 as _sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geoscope_core import settings
from geoscope_core.errors import BundleError
from geoscope_core.fsio import sha256_file
from geoscope_core.runtime.gallery import Gallery
from geoscope_core.runtime.limits import (
    MAX_BUNDLE_BYTES,
    MAX_LABELS_BYTES,
    open_regular,
    read_json,
    read_npy_header,
)
from geoscope_core.runtime.locate import (
    bundle_root,
    discard_extraction,
    is_shipped_default,
    resolve_bundle_path,
    safe_join,
)
from geoscope_core.runtime.manifest import (
    IMAGE_ENCODER,
    MANIFEST_NAME,
    BundleKind,
    Manifest,
    read_manifest_doc,
)

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

#: Keys every label row carries (DESIGN: labels/<level>.json).
LABEL_KEYS = ("id", "name", "parent", "lat", "lon", "population", "country_code")
#: Most labels one level may have.
MAX_LABELS = 2_000_000


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk. ``sha256`` is the hash of the canonical manifest
    (which itself lists the hash of every other file, so it identifies the model)."""

    path: Path
    manifest: Manifest
    sha256: str
    #: what the bundle was opened from: ``path``, or the .zip extracted into ``path``
    source: Path | None = None
    _labels: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _gallery: list[Gallery] = field(default_factory=list, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def model_id(self) -> str:
        """``"<name>@<first 12 hex digits of sha256>"``, the value of ``Prediction.model``."""
        return f"{self.manifest.name}@{self.sha256[:12]}"

    def matches(self, pinned: str) -> bool:
        """Whether ``pinned`` names this bundle: its model id, or at least 12 leading hex
        digits of its sha256 (with or without the ``name@`` part)."""
        text = pinned.strip().lower()
        digest = text.split("@", 1)[1] if "@" in text else text
        if "@" in text and text.split("@", 1)[0] != self.manifest.name.lower():
            return False
        return len(digest) >= 12 and self.sha256.startswith(digest)

    def file(self, rel: str) -> Path:
        """Absolute path of a bundle file (bundle-relative POSIX path ``rel``)."""
        return safe_join(self.path, rel)

    def labels(self, level: str) -> list[dict[str, Any]]:
        """Label rows of ``level``: ``{id, name, parent, lat, lon, population, country_code}``."""
        if level not in self._labels:
            self._labels[level] = _read_labels(self.file(self.manifest.level(level).labels))
        return self._labels[level]

    def embeddings(self, level: str) -> np.ndarray:
        """Text embeddings of ``level``'s labels, float32 [N, D] (zero-shot bundles)."""
        if level not in self._embeddings:
            spec = self.manifest.level(level)
            if not spec.embeddings:
                raise BundleError(f"level {level!r} of bundle {self.name!r} has no embeddings")
            shape = (len(self.labels(level)), self.manifest.embedding_dim)
            emb = _read_embeddings(self.file(spec.embeddings), level, shape)
            self._embeddings[level] = emb
        return self._embeddings[level]

    @property
    def gallery_level(self) -> str:
        """The level whose labels a gallery's ``cell`` indices name: the decoding level."""
        return self.manifest.decoding_level

    def gallery(self) -> Gallery | None:
        """The gallery the manifest's ``decoding.gallery`` names, checked against the
        decoding level's labels and the embedding width (None when it names none)."""
        rel = self.manifest.decoding.gallery
        if rel is None:
            return None
        if not self._gallery:
            self._gallery.append(
                Gallery.read(
                    self.file(rel),
                    top_cells=self.manifest.decoding.gallery_top_cells,
                    n_cells=len(self.labels(self.gallery_level)),
                    embedding_dim=self.manifest.embedding_dim,
                )
            )
        return self._gallery[0]


def _read_labels(path: Path) -> list[dict[str, Any]]:
    rows = read_json(path, "label file", MAX_LABELS_BYTES)
    if not isinstance(rows, list) or not rows:
        raise BundleError(f"label file {path} must be a non-empty JSON list")
    if len(rows) > MAX_LABELS:
        raise BundleError(f"label file {path} has {len(rows):,} labels, more than {MAX_LABELS:,}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or any(k not in row for k in LABEL_KEYS):
            raise BundleError(f"label file {path}: row {i} lacks one of {LABEL_KEYS}")
        if not isinstance(row["id"], str | int) or not isinstance(row["parent"], str | int | None):
            raise BundleError(f"label file {path}: row {i}'s id or parent is not a text or number")
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except (TypeError, ValueError, OverflowError) as e:
            raise BundleError(f"label file {path}: row {i} has a non-numeric lat/lon") from e
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise BundleError(f"label file {path}: row {i} lat/lon out of range ({lat}, {lon})")
    return rows


def _read_embeddings(path: Path, level: str, shape: tuple[int, int]) -> np.ndarray:
    """Level ``level``'s label embeddings as float32 ``shape`` [N labels, D]; the .npy
    header is checked against ``shape`` before the array is read."""
    where = f"embeddings file {path}"
    with open_regular(path, "embeddings file", 4 * shape[0] * shape[1] + (1 << 16)) as f:
        got, dtype = read_npy_header(f, where)
        if dtype not in (np.float16, np.float32) or len(got) != 2:
            raise BundleError(f"{where} must be float16/float32 [N, D], got {dtype} {got}")
        if got != shape:
            raise BundleError(
                f"level {level!r}: embeddings shape {got} != "
                f"({shape[0]} labels, embedding_dim {shape[1]})"
            )
        f.seek(0)
        try:
            arr = np.load(f, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise BundleError(f"unreadable {where}: {e}") from e
    return np.asarray(arr, dtype=np.float32)


# -- verification -------------------------------------------------------------------------


def _hash_problems(root: Path, manifest: Manifest) -> list[str]:
    """Listed files that are missing, not regular files or do not match their sha256,
    unlisted files and symbolic links. Sizes are summed before anything is hashed: files
    beyond ``MAX_BUNDLE_BYTES`` together are refused unread."""
    problems = []
    present: list[tuple[str, Path, str]] = []
    total = 0
    for rel, expected in sorted(manifest.files.items()):
        try:
            p = safe_join(root, rel)
            st = p.lstat()
        except BundleError as e:
            problems.append(str(e))
            continue
        except FileNotFoundError:
            problems.append(f"missing file {rel}")
            continue
        except OSError as e:
            problems.append(f"unreadable file {rel}: {e}")
            continue
        if stat.S_ISLNK(st.st_mode):
            continue  # reported below, with every link
        if not stat.S_ISREG(st.st_mode):
            problems.append(f"{rel} is not a regular file")
            continue
        total += st.st_size
        present.append((rel, p, expected))
    if total > MAX_BUNDLE_BYTES:
        problems.append(
            f"the bundle's files take {total:,} bytes, more than the {MAX_BUNDLE_BYTES:,} allowed"
        )
        present = []
    for rel, p, expected in present:
        actual = sha256_file(p)
        if actual != expected:
            problems.append(
                f"{rel} does not match its sha256 in the manifest "
                f"(corrupted or tampered: {actual[:12]} != {expected[:12]})"
            )
    listed = set(manifest.files)
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            problems.append(f"{rel} is a symbolic link (bundles hold plain files only)")
        elif p.is_file() and rel not in listed and rel != MANIFEST_NAME:
            problems.append(f"file {rel} is not listed in the manifest")
    return problems


def _pin_problems(bundle: Bundle) -> list[str]:
    """The shipped default bundle must be the one this GeoScope was released with."""
    source = bundle.source or bundle.path
    if not is_shipped_default(source) or bundle.sha256 == settings.DEFAULT_MODEL_SHA256:
        return []
    return [
        f"the shipped default bundle {source} was changed: its model id is "
        f"{bundle.model_id} (sha256 {bundle.sha256}), not the "
        f"{settings.DEFAULT_MODEL}@{settings.DEFAULT_MODEL_SHA256[:12]} this GeoScope "
        f"ships (settings.DEFAULT_MODEL_SHA256); reinstall GeoScope or pass --model"
    ]


def _gallery_problems(bundle: Bundle) -> list[str]:
    try:
        bundle.gallery()
    except BundleError as e:
        return [str(e)]
    return []


def bundle_problems(bundle: Bundle) -> list[str]:
    """Every problem of ``bundle`` short of its ONNX graphs (empty = ok): the default
    bundle's pin, file hashes, labels, embedding shapes and the gallery."""
    problems = _pin_problems(bundle) + _hash_problems(bundle.path, bundle.manifest)
    if problems:  # never parse files that are not the ones the manifest lists
        return problems
    problems = _shape_problems(bundle)
    return problems or _gallery_problems(bundle)


def _shape_problems(bundle: Bundle) -> list[str]:
    problems = []
    m = bundle.manifest
    ids: dict[str, set[str]] = {}
    for lv in m.levels:
        try:
            rows = bundle.labels(lv.name)
        except BundleError as e:
            problems.append(str(e))
            continue
        ids[lv.name] = {str(r["id"]) for r in rows}
        if len(ids[lv.name]) != len(rows):
            problems.append(f"level {lv.name!r}: label ids are not unique")
        if m.kind is BundleKind.ZERO_SHOT:
            try:
                emb = bundle.embeddings(lv.name)
            except BundleError as e:
                problems.append(str(e))
                continue
            if not np.all(np.isfinite(emb)):
                problems.append(f"level {lv.name!r}: embeddings contain NaN or inf")
    for lv in m.levels:
        if lv.parent and lv.name in ids and lv.parent in ids:
            parents = {str(r["parent"]) for r in bundle.labels(lv.name)}
            if not parents & ids[lv.parent]:
                problems.append(
                    f"level {lv.name!r}: no label's parent is an id of level {lv.parent!r}"
                )
    return problems


def onnx_io_problems(bundle: Bundle, session: ort.InferenceSession) -> list[str]:
    """Problems between the manifest and an ``onnxruntime.InferenceSession`` of the
    image encoder: one uint8 input [N, size, size, 3], the named outputs present,
    classifier output widths equal to the label counts."""
    m = bundle.manifest
    problems = []
    inputs = session.get_inputs()
    if len(inputs) != 1:
        problems.append(f"image encoder has {len(inputs)} inputs, expected 1 (uint8 pixels)")
    else:
        inp = inputs[0]
        if inp.type != "tensor(uint8)":
            problems.append(f"image encoder input {inp.name!r} is {inp.type}, expected uint8")
        shape = list(inp.shape)
        want = [None, m.input.size, m.input.size, 3]
        if len(shape) != 4 or any(
            isinstance(s, int) and w is not None and s != w
            for s, w in zip(shape, want, strict=False)
        ):
            problems.append(
                f"image encoder input shape {shape} != [N, {m.input.size}, {m.input.size}, 3]"
            )
    outputs = {o.name: o for o in session.get_outputs()}
    wanted = dict(m.outputs)
    for lv in m.levels:
        if lv.output:
            wanted[f"level {lv.name}"] = lv.output
    for role, name in wanted.items():
        if name not in outputs:
            problems.append(
                f"image encoder has no output {name!r} ({role}); it has {sorted(outputs)}"
            )
    emb_name = m.outputs.get("embedding")
    if emb_name in outputs and m.embedding_dim:
        dim = outputs[emb_name].shape[-1] if outputs[emb_name].shape else None
        if isinstance(dim, int) and dim != m.embedding_dim:
            problems.append(f"embedding output width {dim} != embedding_dim {m.embedding_dim}")
    for lv in m.levels:
        if lv.output in outputs:
            shape = outputs[lv.output].shape
            width = shape[-1] if shape else None
            try:
                n = len(bundle.labels(lv.name))
            except BundleError:
                continue
            if isinstance(width, int) and width != n:
                problems.append(f"output {lv.output!r} width {width} != {n} {lv.name} labels")
    return problems


def _open(path: Path) -> Bundle:
    """The bundle at a resolved ``path`` (folder or .zip) with its manifest validated and
    its identity: the sha256 of the canonical manifest (its JSON with sorted keys and no
    whitespace), so the id changes with any value and never with formatting."""
    root = bundle_root(path)
    try:
        doc = read_manifest_doc(root / MANIFEST_NAME)
        manifest = Manifest.from_dict(doc)
        try:
            canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except (RecursionError, ValueError) as e:
            raise BundleError(f"manifest in {root} cannot be hashed: {e}") from e
    except BundleError:
        if root != path:
            discard_extraction(root)
        raise
    digest = _sha256(canonical.encode("utf-8")).hexdigest()
    return Bundle(path=root, manifest=manifest, sha256=digest, source=path)


def load_bundle(path_or_name: str | Path | None = None, verify: bool = True) -> Bundle:
    """Open a bundle by name, folder or .zip; with ``verify`` refuse it on any of
    ``bundle_problems`` (the default bundle's pin, every file's sha256, the labels,
    embedding shapes and the gallery).

    Raises BundleError (listing every problem found) when the bundle is missing,
    corrupted, tampered with, out of its limits or inconsistent; a refused .zip's
    extraction is removed from the cache.
    """
    path = resolve_bundle_path(path_or_name)
    bundle = _open(path)
    if verify:
        problems = bundle_problems(bundle)
        if problems:
            if bundle.path != path:
                discard_extraction(bundle.path)
            raise BundleError(f"bundle {path} failed verification:\n  - " + "\n  - ".join(problems))
    log.info("loaded bundle %s from %s", bundle.model_id, bundle.path)
    return bundle


def bundle_identity(path: str | Path) -> Bundle:
    """The bundle at ``path`` with its identity (model id), without verifying its files."""
    return _open(resolve_bundle_path(path))


def check_bundle(path: str | Path, model_id: str | None = None) -> list[str]:
    """Every problem found in a bundle (empty list = ok): what ``load_bundle`` refuses
    (``bundle_problems``), the ONNX graphs' inputs and outputs, and, with ``model_id``
    (see :meth:`Bundle.matches`), a different identity. A zip with problems leaves
    no extraction in the cache."""
    try:
        bundle = bundle_identity(path)
    except BundleError as e:
        return [str(e)]
    problems = _check_bundle(bundle, model_id)
    if problems and bundle.source is not None and bundle.path != bundle.source:
        discard_extraction(bundle.path)
    return problems


def _check_bundle(bundle: Bundle, model_id: str | None) -> list[str]:
    manifest = bundle.manifest
    problems = bundle_problems(bundle)
    if model_id and not bundle.matches(model_id):
        problems.insert(
            0,
            f"model id is {bundle.model_id} (sha256 {bundle.sha256}), not the pinned "
            f"{model_id}: the manifest or a file differs from the bundle you trust",
        )
    if any(IMAGE_ENCODER in p for p in problems):
        return problems
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        problems.append(f"onnxruntime is not installed: {e}")
        return problems
    from geoscope_core.runtime.session import open_session

    files = [IMAGE_ENCODER]
    if manifest.text_encoder and manifest.text_encoder.file in manifest.files:
        files.append(manifest.text_encoder.file)
    for rel in files:
        try:
            session = open_session(bundle.file(rel))
        except BundleError as e:
            problems.append(f"{rel} cannot be loaded by ONNX Runtime: {e.__cause__}")
            continue
        if rel == IMAGE_ENCODER:
            problems += onnx_io_problems(bundle, session)
    return problems
