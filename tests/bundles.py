"""Tiny but real model bundles for tests, built without torch.

The image encoder is a genuine ONNX graph made with ``onnx.helper``:
uint8 pixels [N, S, S, 3] -> float, /255, mean/std normalisation -> average
pooling to a G x G grid per channel -> MatMul [3*G*G, D] -> L2-normalised
``embedding`` [N, D]; classifier bundles add ``logits_<level>`` = embedding @
W_level [D, n_level]. Label embeddings (zero-shot) or classifier weights are
random unit vectors, except for "anchors": label ids mapped to an image whose
embedding becomes that label's vector, so a test knows which place a given
image must be predicted as.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geoscope_core.runtime.manifest import Manifest, hash_bundle_files

#: A small real hierarchy: (id, name, parent, lat, lon, population, country_code).
COUNTRIES = [
    ("HR", "Croatia", "EU", 45.1, 15.2, 3_870_000, "HR"),
    ("FR", "France", "EU", 46.2, 2.2, 68_000_000, "FR"),
    ("US", "United States", "NA", 39.8, -98.6, 333_000_000, "US"),
    ("JP", "Japan", "AS", 36.2, 138.3, 125_000_000, "JP"),
    ("AU", "Australia", "OC", -25.3, 133.8, 26_000_000, "AU"),
]
ADMIN1 = [
    ("HR/Grad Zagreb", "Grad Zagreb", "HR", 45.81, 15.98, 790_000, "HR"),
    ("HR/Splitsko-Dalmatinska", "Splitsko-Dalmatinska", "HR", 43.5, 16.6, 420_000, "HR"),
    ("FR/Île-de-France", "Île-de-France", "FR", 48.85, 2.35, 12_000_000, "FR"),
    ("FR/Provence-Alpes-Côte d'Azur", "Provence-Alpes-Côte d'Azur", "FR", 43.9, 6.0, 5e6, "FR"),
    ("US/California", "California", "US", 36.8, -119.4, 39_000_000, "US"),
    ("US/New York", "New York", "US", 42.9, -75.5, 19_500_000, "US"),
    ("JP/Tokyo", "Tokyo", "JP", 35.68, 139.69, 14_000_000, "JP"),
    ("AU/New South Wales", "New South Wales", "AU", -32.0, 147.0, 8_000_000, "AU"),
]
_CITY_ROWS = [
    ("Zagreb", "HR/Grad Zagreb", 45.815, 15.982, 790_000),
    ("Split", "HR/Splitsko-Dalmatinska", 43.508, 16.440, 178_000),
    ("Makarska", "HR/Splitsko-Dalmatinska", 43.297, 17.018, 13_000),
    ("Paris", "FR/Île-de-France", 48.857, 2.352, 2_100_000),
    ("Marseille", "FR/Provence-Alpes-Côte d'Azur", 43.296, 5.370, 870_000),
    ("Nice", "FR/Provence-Alpes-Côte d'Azur", 43.710, 7.262, 340_000),
    ("Los Angeles", "US/California", 34.052, -118.244, 3_900_000),
    ("San Francisco", "US/California", 37.775, -122.419, 810_000),
    ("New York City", "US/New York", 40.713, -74.006, 8_300_000),
    ("Tokyo", "JP/Tokyo", 35.690, 139.692, 14_000_000),
    ("Sydney", "AU/New South Wales", -33.869, 151.209, 5_300_000),
]
CITIES = [
    (f"{par}/{name}", name, par, lat, lon, pop, par[:2]) for name, par, lat, lon, pop in _CITY_ROWS
]

_KEYS = ("id", "name", "parent", "lat", "lon", "population", "country_code")


def rows(table: Sequence[tuple]) -> list[dict[str, Any]]:
    """Label dicts from one of the tables above."""
    return [dict(zip(_KEYS, (*t[:5], int(t[5]), t[6]), strict=True)) for t in table]


def default_levels() -> dict[str, list[dict[str, Any]]]:
    """country -> admin1 -> city label rows of the small built-in hierarchy."""
    return {"country": rows(COUNTRIES), "admin1": rows(ADMIN1), "city": rows(CITIES)}


def solid_image(rgb: tuple[int, int, int], size: int = 64) -> np.ndarray:
    """uint8 [size, size, 3] image of one colour with a diagonal gradient (not flat)."""
    img = np.empty((size, size, 3), dtype=np.float32)
    img[:] = np.asarray(rgb, dtype=np.float32)
    ramp = np.linspace(-20, 20, size, dtype=np.float32)
    img += (ramp[:, None] + ramp[None, :])[..., None] / 2
    return np.clip(img, 0, 255).astype(np.uint8)


RED = solid_image((210, 40, 40))
BLUE = solid_image((40, 40, 210))
GREEN = solid_image((40, 200, 60))
#: anchor image -> the label it must be predicted as (``make_bundle(anchors=...)``):
#: red photos are in Split, blue ones in Tokyo, green ones in Paris.
ANCHORS = {
    "HR": RED,
    "HR/Splitsko-Dalmatinska": RED,
    "HR/Splitsko-Dalmatinska/Split": RED,
    "JP": BLUE,
    "JP/Tokyo": BLUE,
    "JP/Tokyo/Tokyo": BLUE,
    "FR": GREEN,
    "FR/Île-de-France": GREEN,
    "FR/Île-de-France/Paris": GREEN,
}


def anchors_of(*countries: str) -> dict[str, np.ndarray]:
    """The ``ANCHORS`` of these country codes (and their regions and cities)."""
    return {k: v for k, v in ANCHORS.items() if k.split("/")[0] in countries}


def _encoder_model(
    size: int, grid: int, dim: int, level_sizes: Mapping[str, int], rng: np.random.Generator
):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    w = rng.standard_normal((3 * grid * grid, dim)).astype(np.float32)
    k = size // grid
    inits = [
        numpy_helper.from_array(np.array(1 / 255, np.float32), "inv255"),
        numpy_helper.from_array(mean, "mean"),
        numpy_helper.from_array(std, "std"),
        numpy_helper.from_array(w, "w_embed"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array(1e-12, np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Cast", ["pixels"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["nchw", "inv255"], ["x01"]),
        helper.make_node("Sub", ["x01", "mean"], ["xc"]),
        helper.make_node("Div", ["xc", "std"], ["xn"]),
        helper.make_node("AveragePool", ["xn"], ["pooled"], kernel_shape=[k, k], strides=[k, k]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w_embed"], ["raw"]),
        helper.make_node("ReduceL2", ["raw", "axis1"], ["norm"], keepdims=1),
        helper.make_node("Max", ["norm", "eps"], ["norm_eps"]),
        helper.make_node("Div", ["raw", "norm_eps"], ["embedding"]),
    ]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])]
    for level, n in level_sizes.items():
        name = f"w_{level}"
        inits.append(numpy_helper.from_array(np.zeros((dim, n), np.float32), name))
        nodes.append(helper.make_node("MatMul", ["embedding", name], [f"logits_{level}"]))
        outputs.append(
            helper.make_tensor_value_info(f"logits_{level}", TensorProto.FLOAT, ["N", n])
        )
    graph = helper.make_graph(
        nodes,
        "tiny_image_encoder",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["N", size, size, 3])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _embed(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return sess.run(["embedding"], {"pixels": images})[0]


def make_bundle(
    out: Path,
    kind: str = "zero-shot",
    levels: Mapping[str, list[dict[str, Any]]] | None = None,
    anchors: Mapping[str, np.ndarray] | None = None,
    size: int = 64,
    grid: int = 4,
    dim: int = 32,
    logit_scale: float = 100.0,
    temperature: float = 1.0,
    error_model: dict[str, list[float]] | None = None,
    decoding: dict[str, Any] | None = None,
    name: str = "tiny",
    seed: int = 0,
    parents: Mapping[str, str | None] | None = None,
) -> Path:
    """Write a complete bundle folder at ``out`` and return it.

    ``levels``: level name -> label rows, in hierarchy order (default: the
    built-in country/admin1/city set); ``parents`` maps a level to its parent
    level (default: each level's predecessor). ``anchors``: label id ->
    uint8 [size, size, 3] image whose embedding becomes that label's text
    embedding (zero-shot) or classifier weight column (classifier), so the
    anchor image is predicted as that label. Every other label gets a random
    unit vector.
    """
    import onnx
    from onnx import numpy_helper

    out = Path(out)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    levels = dict(levels or default_levels())
    names = list(levels)
    if parents is None:
        parents = {lv: (names[i - 1] if i else None) for i, lv in enumerate(names)}
    sizes = {lv: len(r) for lv, r in levels.items()} if kind == "classifier" else {}
    model = _encoder_model(size, grid, dim, sizes, rng)

    anchor_emb: dict[str, np.ndarray] = {}
    if anchors:
        ids = list(anchors)
        imgs = np.stack([anchors[i] for i in ids]).astype(np.uint8)
        emb = _embed(model.SerializeToString(), imgs)
        anchor_emb = dict(zip(ids, emb, strict=True))

    level_specs = []
    for lv, label_rows in levels.items():
        vecs = rng.standard_normal((len(label_rows), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for j, row in enumerate(label_rows):
            if row["id"] in anchor_emb:
                vecs[j] = anchor_emb[row["id"]]
        (out / "labels" / f"{lv}.json").write_text(
            json.dumps(label_rows, ensure_ascii=False), encoding="utf-8"
        )
        spec: dict[str, Any] = {"name": lv, "labels": f"labels/{lv}.json", "parent": parents[lv]}
        if kind == "zero-shot":
            np.save(out / "labels" / f"{lv}.npy", vecs.astype(np.float16))
            spec["embeddings"] = f"labels/{lv}.npy"
        else:
            for init in model.graph.initializer:
                if init.name == f"w_{lv}":
                    init.CopyFrom(numpy_helper.from_array(vecs.T * logit_scale, init.name))
            spec["output"] = f"logits_{lv}"
        level_specs.append(spec)
    onnx.save(model, out / "image_encoder.onnx")

    manifest = {
        "format_version": 1,
        "name": name,
        "kind": kind,
        "input": {"size": size, "resize": "center-crop"},
        "levels": level_specs,
        "files": hash_bundle_files(out),
        "embedding_dim": dim,
        "logit_scale": logit_scale if kind == "zero-shot" else 1.0,
        "temperature": temperature,
        "outputs": {"embedding": "embedding"},
        "error_model": error_model,
        "decoding": decoding or {},
        "producer": {"tests.bundles": "1"},
    }
    Manifest.from_dict(manifest).write(out / "manifest.json")
    return out


def write_jpeg(
    path: Path,
    pixels: np.ndarray,
    gps: tuple[float, float] | None = None,
    taken_at: str | None = None,
    camera: tuple[str, str] = ("Canon", "Canon EOS 40D"),
    size: tuple[int, int] = (256, 192),
    offset: str | None = None,
) -> Path:
    """Save ``pixels`` (uint8 [H, W, 3]) upscaled to ``size`` as a JPEG with EXIF
    Make/Model, DateTimeOriginal (``"YYYY:MM:DD HH:MM:SS"``), OffsetTimeOriginal
    (``"+02:00"``) and GPS (degrees)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = camera
    if taken_at:
        exif.get_ifd(0x8769)[0x9003] = taken_at
    if offset:
        exif.get_ifd(0x8769)[0x9011] = offset
    if gps is not None:
        g = exif.get_ifd(0x8825)
        for (ref_tag, val_tag), value, (pos, neg) in (
            ((1, 2), gps[0], ("N", "S")),
            ((3, 4), gps[1], ("E", "W")),
        ):
            a = abs(value)
            d, m = int(a), int((a - int(a)) * 60)
            s = round((a - d - m / 60) * 3600, 4)
            g[ref_tag] = pos if value >= 0 else neg
            g[val_tag] = (float(d), float(m), s)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).resize(size).save(path, "JPEG", quality=95, exif=exif)
    return path
