"""export_bundle on TRAIN's tiny checkpoints: files, hashes, runtime loading, quantization."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest

from geoscope_core.errors import BundleError, ConfigError, ExportError
from geoscope_core.runtime.bundle import check_bundle, load_bundle
from geoscope_core.runtime.manifest import BundleKind, Manifest, Refine, hash_bundle_files
from geoscope_core.runtime.predictor import Predictor
from geoscope_export import ExportConfig, export_bundle
from geoscope_export.onnx_export import session


def _pixels(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def fp32_bundle(tiny_cnn_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "tiny-fp32"
    return export_bundle(tiny_cnn_checkpoint, out, ExportConfig(quantize="none", validate=False))


def test_classifier_bundle_files_hashes_and_manifest(fp32_bundle: Path) -> None:
    manifest = Manifest.read(fp32_bundle / "manifest.json")
    assert manifest.kind is BundleKind.CLASSIFIER
    assert manifest.name == "tiny-fp32"
    assert manifest.files == hash_bundle_files(fp32_bundle)
    assert set(manifest.files) == {"image_encoder.onnx", "labels/country.json", "labels/cell.json"}
    assert [lv.name for lv in manifest.levels] == ["country", "cell"]
    assert manifest.level("cell").parent == "country"
    assert manifest.level("cell").output == "logits_cell"
    assert manifest.input.size == 64
    assert manifest.quantization["method"] == "none"
    assert manifest.producer["backbone"] == "tiny"
    assert {"torch", "onnx", "onnxruntime", "geoscope"} <= set(manifest.producer)
    parity = manifest.quantization["parity_fp32"]
    assert all(parity["max_abs_diff"][k] <= parity["tolerance"][k] for k in parity["tolerance"])
    assert check_bundle(fp32_bundle) == []


def test_manifest_input_is_the_backbones_preprocessing(
    fp32_bundle: Path, tiny_cnn_checkpoint: Path
) -> None:
    """The manifest's input is the model's preprocess: its backbone's spec at the trained
    size (what training's view 0 was made with)."""
    from geoscope_core.training.backbones import build_backbone
    from geoscope_core.training.checkpoint import load_checkpoint

    manifest = Manifest.read(fp32_bundle / "manifest.json")
    model = load_checkpoint(tiny_cnn_checkpoint)
    tiny = build_backbone("tiny", pretrained=False)
    assert manifest.input == model.preprocess == tiny.input_at(64)


def test_image_encoder_graph_contract(fp32_bundle: Path) -> None:
    model = onnx.load(str(fp32_bundle / "image_encoder.onnx"))
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    (inp,) = model.graph.input
    assert inp.name == "pixels"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [64, 64, 3]
    sess = session(fp32_bundle / "image_encoder.onnx")
    for n in (1, 5):  # dynamic batch axis
        emb, lc, lcell = sess.run(None, {"pixels": _pixels(n, 64)})
        assert emb.shape[0] == lc.shape[0] == lcell.shape[0] == n
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_runtime_loads_and_predicts(fp32_bundle: Path) -> None:
    predictor = Predictor.load(fp32_bundle, provider="cpu")
    preds = predictor.predict(_pixels(3, 64))
    assert len(preds) == 3
    codes = {row["country_code"] for row in load_bundle(fp32_bundle).labels("country")}
    for p in preds:
        assert -90 <= p.lat <= 90 and -180 <= p.lon <= 180
        assert 0 < p.confidence <= 1
        assert p.country_code in codes
        assert p.model.startswith("tiny-fp32@")


def test_training_decodes_as_the_bundle_does(fp32_bundle: Path) -> None:
    """Training's validation decoder and the exported bundle's give the same answers."""
    from geoscope_core.geo.cells import CellSet
    from geoscope_core.runtime.decoding import Decoder
    from geoscope_core.training.cnn import cell_decoder

    bundle = load_bundle(fp32_bundle)
    spec = bundle.manifest.decoding
    runtime = Decoder.from_bundle(bundle)
    cells = {
        lv.name: CellSet.from_labels(lv.name, bundle.labels(lv.name))
        for lv in bundle.manifest.levels
    }
    training = cell_decoder(cells, spec)
    assert training.chain == runtime.chain == ("country", "cell")
    rng = np.random.default_rng(5)
    logits = {n: rng.normal(0, 3, (20, len(cells[n]))) for n in cells}
    assert training.decode_many(logits) == [
        replace(p, model="") for p in runtime.decode_many(logits)
    ]


def test_tampered_file_is_refused(fp32_bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(fp32_bundle, copy)
    labels = copy / "labels" / "cell.json"
    rows = json.loads(labels.read_text())
    rows[0]["lat"] = 0.0
    labels.write_text(json.dumps(rows))
    problems = check_bundle(copy)
    assert any("cell.json" in p for p in problems)
    with pytest.raises(BundleError):
        load_bundle(copy)


def test_existing_output_is_not_replaced_without_overwrite(
    tiny_cnn_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_bundle(tiny_cnn_checkpoint, out, ExportConfig(quantize="none", validate=False))
    assert (out / "keep.txt").read_text() == "mine"
    export_bundle(
        tiny_cnn_checkpoint, out, ExportConfig(quantize="none", validate=False, overwrite=True)
    )
    assert not (out / "keep.txt").exists()
    assert check_bundle(out) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_fp16_bundle(tiny_cnn_checkpoint: Path, fp32_bundle: Path, tmp_path: Path) -> None:
    out = export_bundle(
        tiny_cnn_checkpoint, tmp_path / "half", ExportConfig(quantize="fp16", validate=False)
    )
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.quantization["method"] == "fp16"
    graph = onnx.load(str(out / "image_encoder.onnx")).graph
    conv_weights = [i for i in graph.initializer if len(i.dims) == 4]
    assert conv_weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in conv_weights)
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    px = _pixels(4, 64, seed=3)
    half = session(out / "image_encoder.onnx").run(None, {"pixels": px})
    full = session(fp32_bundle / "image_encoder.onnx").run(None, {"pixels": px})
    assert half[0].dtype == np.float32
    np.testing.assert_allclose(half[0], full[0], atol=2e-2)
    assert (out / "image_encoder.onnx").stat().st_size < 0.6 * (
        fp32_bundle / "image_encoder.onnx"
    ).stat().st_size
    assert check_bundle(out) == []


def test_int8_bundle_calibrated_and_validated_on_real_photos(
    tiny_cnn_checkpoint: Path, tmp_path: Path
) -> None:
    """Static QDQ int8 with calibration on the shared train photos, metrics on val photos
    (fails, not skips, when the shared data is missing)."""
    out = export_bundle(
        tiny_cnn_checkpoint,
        tmp_path / "int8",
        ExportConfig(quantize="int8", calibration_images=8, max_val=24, zip=True),
    )
    assert out.suffix == ".zip" and out.is_file()
    folder = out.with_suffix("")
    manifest = Manifest.read(folder / "manifest.json")
    q = manifest.quantization
    assert q["method"] == "int8-static-qdq" and q["calibration_images"] == 8
    ops = {n.op_type for n in onnx.load(str(folder / "image_encoder.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    val = manifest.metrics["val"]
    assert val["photos"] == 24
    for tag in ("fp32", "int8"):
        assert set(val[tag]["acc_km"]) == {"1", "25", "200", "750", "2500"}
        assert 0.0 <= val[tag]["acc_km"]["2500"] <= 1.0
        assert val[tag]["country_acc"] is not None
    for key in ("acc_750km", "acc_2500km"):
        k = key.removeprefix("acc_").removesuffix("km")
        assert val["drop"][key] == pytest.approx(
            val["fp32"]["acc_km"][k] - val["int8"]["acc_km"][k], abs=1e-4
        )
    assert manifest.temperature > 0 and manifest.temperature != 1.0
    em = manifest.error_model
    assert em is not None and list(em.confidence) == sorted(em.confidence)
    assert all(a >= b for a, b in zip(em.radius_km, em.radius_km[1:], strict=False))
    assert manifest.decoding.refine in (Refine.TOP, Refine.WEIGHTED)
    assert check_bundle(out) == [] and check_bundle(folder) == []
    preds = Predictor.load(out, provider="cpu").predict(_pixels(2, 64))
    assert len(preds) == 2 and preds[0].radius_km > 0


def test_a_bundle_with_views_is_validated_as_the_runtime_runs_it(
    tiny_cnn_checkpoint: Path, tmp_path: Path
) -> None:
    """With ``views``, the manifest records them, validation averages the encoder over
    them as the runtime does, and its metrics are what the runtime's answers score."""
    from geoscope_core.geo.distance import haversine_km
    from geoscope_core.runtime.manifest import View
    from geoscope_export import evaluate as ev

    out = export_bundle(
        tiny_cnn_checkpoint,
        tmp_path / "views",
        ExportConfig(quantize="none", max_val=12, views=("center", "start", "end")),
    )
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.input.views == (View.CENTER, View.START, View.END)
    photos = ev.decode_records(ev.sample_records(ev.load_records(None, "val"), 12), manifest.input)
    assert photos.pixels.shape[:2] == (12, 3)
    predictor = Predictor.load(out, provider="cpu")
    preds = predictor.predict(photos.pixels)
    err = haversine_km(np.array([p.lat for p in preds]), np.array([p.lon for p in preds]),
                       photos.lat, photos.lon)  # fmt: skip
    assert manifest.metrics["val"]["fp32"]["median_km"] == pytest.approx(np.median(err), rel=1e-4)
    # the views are not the centre crop alone
    centre = predictor.embed(photos.pixels[:, :1])
    assert not np.allclose(centre, predictor.embed(photos.pixels), atol=1e-4)
    with pytest.raises(ConfigError, match="views"):
        ExportConfig(views=("middle",))


def test_export_copies_the_models_decoding_verbatim(
    tiny_cnn_checkpoint: Path, tmp_path: Path
) -> None:
    """The run's decoding.json (what training validated) is the manifest's decoding, field
    for field: the exporter adds no default of its own."""
    import shutil

    from geoscope_core.runtime.manifest import DecodingSpec, Point
    from geoscope_core.training.checkpoint import load_config_of

    written = json.loads((tiny_cnn_checkpoint / "decoding.json").read_text())
    assert DecodingSpec.from_dict(written) == load_config_of(tiny_cnn_checkpoint).decoding_spec()
    run = tmp_path / "run"
    shutil.copytree(tiny_cnn_checkpoint, run)
    odd = DecodingSpec(beam=7, top_k=2, refine=Refine.WEIGHTED, refine_k=4,
                       refine_radius_km=321.0, min_radius_km=12.0, unsure_below=0.05,
                       point=Point.MIN_EXPECTED_DISTANCE)  # fmt: skip
    (run / "decoding.json").write_text(json.dumps(odd.to_dict()))
    out = export_bundle(run, tmp_path / "b", ExportConfig(quantize="none", validate=False))
    assert Manifest.read(out / "manifest.json").decoding == odd


def test_out_of_source_calibration_goes_into_the_manifest(
    tiny_cnn_checkpoint: Path, tmp_path: Path
) -> None:
    """The protocol's calibration.json (temperature, radius, unsure threshold) is the
    bundle's; one fitted with another logit adjustment than the heads carry is refused."""
    from geoscope_core.runtime.manifest import ErrorModel

    cal = {"logit_adjust_tau": 0.0, "temperature": 3.5, "unsure_below": 0.2,
           "error_model": {"confidence": [0.0, 0.1], "radius_km": [5000.0, 900.0]}}  # fmt: skip
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(cal))
    config = ExportConfig(quantize="none", validate=False, oos_calibration=path)
    out = export_bundle(tiny_cnn_checkpoint, tmp_path / "b", config)
    m = Manifest.read(out / "manifest.json")
    assert m.temperature == 3.5 and m.decoding.unsure_below == 0.2
    assert m.error_model == ErrorModel((0.0, 0.1), (5000.0, 900.0))
    assert m.metrics["calibration"] == cal
    path.write_text(json.dumps({**cal, "logit_adjust_tau": 0.5}))
    with pytest.raises(ExportError, match="logit adjustment"):
        export_bundle(tiny_cnn_checkpoint, tmp_path / "c", config)
    # a radius fitted around another point than the model answers is refused too
    path.write_text(json.dumps({**cal, "point": "min_expected_distance"}))
    with pytest.raises(ExportError, match="decoding point"):
        export_bundle(tiny_cnn_checkpoint, tmp_path / "d", config)
