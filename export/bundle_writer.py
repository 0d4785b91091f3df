"""``export_bundle``: checkpoint -> model bundle directory (and optional .zip).

Steps: image encoder to ONNX (fp32) and the PyTorch/ONNX Runtime parity check;
label files (classifier: the checkpoint's cells; zero-shot: gazetteer places
with caption-averaged text embeddings, plus the text encoder and tokenizer);
quantization of the shipped encoder; validation of fp32 and shipped graphs on
labelled photos (metrics, temperature, error model); the manifest with the
sha256 of every file. The bundle is built in a temporary folder beside ``out``
and moved into place only when complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from geoscope_core.errors import BundleError, DataError, ExportError
from geoscope_core.runtime.manifest import (
    IMAGE_ENCODER,
    MANIFEST_NAME,
    BundleKind,
    DecodingSpec,
    ErrorModel,
    Manifest,
    Point,
    PreprocessSpec,
    hash_bundle_files,
    level_specs,
)
from geoscope_core.training.exportable import ExportableModel
from geoscope_export import evaluate as ev
from geoscope_export.config import ExportConfig, Int8Method, Quantize
from geoscope_export.onnx_export import (
    check_parity,
    export_image_encoder,
    is_convolutional,
    session,
)
from geoscope_export.quantize import (
    convert_fp16,
    quantize_dynamic_int8,
    quantize_static_int8,
)
from geoscope_export.text_export import export_text
from geoscope_export.validation import validate_on_photos

log = logging.getLogger(__name__)

PARITY_PHOTOS = 8


def export_bundle(checkpoint: Path, out: Path, config: ExportConfig | None = None) -> Path:
    """Export the training checkpoint at ``checkpoint`` to the bundle folder ``out``.

    Returns ``out`` (or ``out`` with suffix .zip when ``config.zip``, the folder is kept
    beside it). Raises ExportError (parity, quantization, an existing ``out``),
    DataError (missing calibration/validation photos) or TrainingError (bad checkpoint).
    """
    from geoscope_core.training.checkpoint import load_checkpoint

    checkpoint = Path(checkpoint)
    # properties vs protocol attributes: checked structurally in export_model
    model = cast(ExportableModel, load_checkpoint(checkpoint, device="cpu"))
    training = _checkpoint_facts(checkpoint)
    return export_model(model, out, config or ExportConfig(), training=training)


def _checkpoint_facts(checkpoint: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {"checkpoint": checkpoint.name}
    for name in ("config.json", "arch.json", "metrics.json", "decoding.json"):
        path = checkpoint / name
        if path.is_file():
            try:
                facts[name.removesuffix(".json")] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise ExportError(f"unreadable {path}: {e}") from e
    return facts


def export_model(
    model: ExportableModel,
    out: Path,
    config: ExportConfig | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Export any ``ExportableModel`` to the bundle folder ``out`` (see ``export_bundle``)."""
    config = config or ExportConfig()
    if not isinstance(model, ExportableModel):
        raise ExportError(f"{type(model).__name__} does not satisfy ExportableModel")
    out = Path(out)
    occupied = (any(out.iterdir()) if out.is_dir() else True) if out.exists() else False
    if occupied and not config.overwrite:
        raise ExportError(f"{out} exists and is not empty (use overwrite / --force)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="geoscope-export-") as work:
            _build(model, staging, Path(work), config, training or {}, out.name)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("bundle written to %s", out)
    if config.zip:
        return write_zip(out, out.with_suffix(".zip"))
    return out


def write_zip(bundle: Path, dest: Path) -> Path:
    """Zip the bundle folder's content (files at the archive root) to ``dest``."""
    import zipfile

    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(bundle).as_posix())
    tmp.replace(dest)
    return dest


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch

    from geoscope_core import __version__

    return {
        "geoscope": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
    }


def model_decoding(kind: BundleKind, training: dict[str, Any]) -> DecodingSpec:
    """The decoding the model owns, as its training run validated it: the run's
    ``decoding.json``; for a run written before it, its config's ``decoding_spec()``;
    without a run, the model type's default config's. The exporter adds nothing."""
    from geoscope_core.training.config import ClipConfig, CnnConfig, config_from_dict

    if training.get("decoding") is not None:
        try:
            return DecodingSpec.from_dict(training["decoding"])
        except BundleError as e:
            raise ExportError(f"the run's decoding.json: {e}") from e
    if training.get("config"):
        return config_from_dict(training["config"]).decoding_spec()
    return (ClipConfig() if kind is BundleKind.ZERO_SHOT else CnnConfig()).decoding_spec()


def zero_shot_decoding(config: ExportConfig, training: dict[str, Any]) -> tuple[int, DecodingSpec]:
    """Cities per country of a zero-shot bundle's city level, and its decoding: the
    model's (:func:`model_decoding`), with ``config.cities_per_country`` when the user
    names another number of cities."""
    decoding = model_decoding(BundleKind.ZERO_SHOT, training)
    if config.cities_per_country:
        decoding = replace(decoding, cities_per_country=config.cities_per_country)
    if decoding.cities_per_country is None:
        raise ExportError("the model's decoding names no cities per country")
    return decoding.cities_per_country, decoding


def _build(
    model: ExportableModel,
    root: Path,
    work: Path,
    config: ExportConfig,
    training: dict[str, Any],
    default_name: str,
) -> None:
    zero_shot = model.kind == "zero-shot"
    spec = replace(model.preprocess, views=config.views) if config.views else model.preprocess
    output_names = list(model.image_output_names())
    if not output_names or output_names[0] != "embedding":
        raise ExportError(f"the image encoder's first output must be 'embedding': {output_names}")

    # -- photos: calibration (int8) and validation ---------------------------------
    need_calib = config.quantize is Quantize.INT8 and config.int8_method is not Int8Method.DYNAMIC
    calib = None
    if need_calib:
        records = ev.load_records(config.calibration_csv, "train")
        records = ev.sample_records(records, config.calibration_images, seed=config.seed)
        calib = ev.decode_records(records, spec.centre_view())
    val = None
    if config.validate:
        records = ev.load_records(config.val_csv, "val")
        val = ev.decode_records(ev.sample_records(records, config.max_val, seed=config.seed), spec)

    # -- image encoder: fp32 graph + parity -------------------------------------------
    image_module = model.image_module().eval()
    fp32 = export_image_encoder(
        image_module, spec.size, output_names, work / "image_fp32.onnx", config.opset
    )
    source = calib if calib is not None else val
    if source is not None:
        parity_pixels = source.frames[:PARITY_PHOTOS]
    else:
        rng = np.random.default_rng(config.seed)
        parity_pixels = rng.integers(0, 256, (4, spec.size, spec.size, 3), dtype=np.uint8)
    parity = check_parity(
        image_module,
        fp32,
        {"pixels": parity_pixels},
        output_names,
        atol=config.parity_atol,
        rtol=config.parity_rtol,
    )
    first = session(fp32).run(output_names, {"pixels": parity_pixels[:1]})
    probe = dict(zip(output_names, first, strict=True))
    embedding_dim = int(probe["embedding"].shape[1])

    # -- levels and labels ---------------------------------------------------------------
    (root / "labels").mkdir(parents=True)
    kind = BundleKind.ZERO_SHOT if zero_shot else BundleKind.CLASSIFIER
    text_spec = None
    embeddings: dict[str, np.ndarray] = {}
    decoding: DecodingSpec
    if zero_shot:
        from geoscope_core.geo.gazetteer import get_gazetteer
        from geoscope_core.geo.labelsets import level_rows, zero_shot_places
        from geoscope_export.label_embeddings import label_embeddings, to_float16

        gaz = get_gazetteer()
        cities, decoding = zero_shot_decoding(config, training)
        places = zero_shot_places(gaz, config.levels, cities)
        rows_by_level = level_rows(places)
        for name, rows in rows_by_level.items():
            emb = label_embeddings(model.encode_text, places[name], gaz)
            if emb.shape != (len(rows), embedding_dim):
                raise ExportError(
                    f"{name} label embeddings have shape {emb.shape}, "
                    f"expected ({len(rows)}, {embedding_dim})"
                )
            half = to_float16(emb)
            np.save(root / "labels" / f"{name}.npy", half)
            embeddings[name] = half.astype(np.float32)
        if config.text_encoder:
            text_spec = export_text(model, root, work, config)
    else:
        rows_by_level = {name: list(rows) for name, rows in model.level_labels().items()}
        if not rows_by_level:
            raise ExportError("a classifier model returned no level labels")
        decoding = model_decoding(BundleKind.CLASSIFIER, training)
    levels = level_specs(kind, rows_by_level)
    heads: list[ev.LevelHead] = []
    for level in levels:
        rows = rows_by_level[level.name]
        if level.output is not None:
            if level.output not in probe:
                raise ExportError(f"level {level.name!r} has no encoder output {level.output!r}")
            if probe[level.output].shape[1] != len(rows):
                raise ExportError(
                    f"output {level.output!r} has {probe[level.output].shape[1]} logits "
                    f"but level {level.name!r} has {len(rows)} labels"
                )
        _write_json(root / level.labels, rows)
        heads.append(ev.LevelHead(level.name, rows, level.output, embeddings.get(level.name)))

    # -- the shipped image encoder ----------------------------------------------------------
    shipped = root / IMAGE_ENCODER
    quant = _quantize_image(fp32, shipped, config, calib)
    quant["parity_fp32"] = parity.to_dict()
    if decoding.gallery is not None:
        if zero_shot or not config.gallery_dim:
            raise ExportError(
                "the model decodes with a gallery: export it as a classifier with gallery_dim"
            )
        _write_gallery(root / decoding.gallery, shipped, heads[-1], spec, config, decoding)
    elif config.gallery_dim:
        raise ExportError(
            "gallery_dim given but the model decodes without a gallery (train it with gallery=true)"
        )
    logit_scale = float(model.logit_scale) if zero_shot else 1.0

    metrics: dict[str, Any] = {}
    if training.get("metrics") is not None:
        metrics["training"] = training["metrics"]

    producer = _versions()
    train_cfg = training.get("config") or {}
    arch = training.get("arch") or {}
    for key, value in (
        ("checkpoint", training.get("checkpoint")),
        ("model_type", train_cfg.get("model_type")),
        ("backbone", arch.get("backbone_arch") or train_cfg.get("backbone")),
        ("opset", str(config.opset)),
    ):
        if value:
            producer[key] = str(value)
    name = config.name or default_name
    description = config.description or (
        f"{model.kind} bundle, levels {', '.join(lv.name for lv in levels)}"
        + (f", backbone {producer['backbone']}" if "backbone" in producer else "")
    )
    manifest = Manifest(
        name=name,
        kind=kind,
        input=spec,
        levels=tuple(levels),
        files=hash_bundle_files(root),
        embedding_dim=embedding_dim,
        logit_scale=logit_scale,
        temperature=1.0,
        outputs={"embedding": "embedding"},
        text_encoder=text_spec,
        error_model=None,
        decoding=decoding,
        producer=producer,
        quantization=quant,
        metrics=metrics,
        description=description,
    )
    if config.oos_calibration is not None:
        tau = float((training.get("config") or {}).get("logit_adjust_tau", 0.0))
        finest = manifest.decoding_level

        def prior() -> tuple[float, ...]:
            from geoscope_core.training.cnn import training_prior
            from geoscope_core.training.config import CnnConfig, config_from_dict

            recipe = config_from_dict(training.get("config") or {})
            if not isinstance(recipe, CnnConfig):
                raise ExportError("a prior mix needs a classifier's training recipe")
            return training_prior(recipe, finest, rows_by_level[finest])

        manifest = with_oos_calibration(manifest, config.oos_calibration, tau, prior)
    if val is not None:
        manifest = validate_on_photos(
            root,
            manifest,
            fp32,
            val,
            heads,
            config,
            fit_calibration=config.oos_calibration is None,
        )
    manifest.write(root / MANIFEST_NAME)
    Manifest.read(root / MANIFEST_NAME)  # what we wrote must parse and validate


def with_oos_calibration(
    manifest: Manifest,
    path: Path,
    tau: float,
    prior: Callable[[], tuple[float, ...]] | None = None,
) -> Manifest:
    """``manifest`` with the out-of-source protocol's ``calibration.json`` at ``path``:
    its temperature, error model, unsure threshold, gallery threshold (the gate its
    answers were decoded with) and prior mix (with the model's
    training ``prior`` over its decoding level, computed only when the mix is > 0), the
    file's content under ``metrics.calibration``. ExportError when it is unreadable, was
    fitted with a prior mix and no ``prior`` is given, was fitted with another
    logit adjustment than the heads carry (``tau``), or around another decoding point
    (or ``within_km``) than the model's (the radius belongs to the point it was fitted
    for)."""
    try:
        cal = json.loads(Path(path).read_text(encoding="utf-8"))
        em = ErrorModel(
            tuple(cal["error_model"]["confidence"]), tuple(cal["error_model"]["radius_km"])
        )
        temperature, unsure = float(cal["temperature"]), float(cal["unsure_below"])
        mix = float(cal.get("prior_mix", 0.0))
        decoding = replace(manifest.decoding, unsure_below=unsure, prior=(), prior_mix=0.0)
        gate = cal.get("gallery_min_similarity")
        if gate is not None:
            decoding = replace(decoding, gallery_min_similarity=gate)
    except (OSError, ValueError, KeyError, TypeError, BundleError) as e:
        raise ExportError(f"unreadable calibration {path}: {e}") from e
    if abs(float(cal.get("logit_adjust_tau", 0.0)) - tau) > 1e-9:
        raise ExportError(
            f"{path} was fitted with logit adjustment "
            f"{cal.get('logit_adjust_tau')}, the run's heads carry {tau}"
        )
    point = str(cal.get("point", Point.MODE.value))
    if point != decoding.point.value:
        raise ExportError(
            f"{path} was fitted for decoding point {point!r}, "
            f"the model decodes with {decoding.point.value!r}"
        )
    within = cal.get("within_km", decoding.within_km)
    if decoding.point is Point.MAX_MASS_WITHIN and within != decoding.within_km:
        raise ExportError(
            f"{path} was fitted for the mass within {within} km, "
            f"the model decodes with {decoding.within_km:g} km"
        )
    if mix > 0:
        if prior is None:
            raise ExportError(f"{path} mixes the training prior, and none is at hand")
        try:
            decoding = replace(decoding, prior=prior(), prior_mix=mix)
        except BundleError as e:
            raise ExportError(f"{path}: prior mix {mix}: {e}") from e
    return replace(
        manifest,
        temperature=temperature,
        error_model=em,
        decoding=decoding,
        metrics={**manifest.metrics, "calibration": cal},
    )


def _write_gallery(
    path: Path,
    encoder: Path,
    finest: ev.LevelHead,
    spec: PreprocessSpec,
    config: ExportConfig,
    decoding: DecodingSpec,
) -> None:
    """Embed the training photos with the shipped ``encoder`` and write the bundle's
    gallery at ``path`` (each photo in the ``finest`` level's nearest cell)."""
    from geoscope_core.runtime.gallery import build_gallery, write_gallery

    records = ev.load_records(config.calibration_csv, "train")
    photos = ev.decode_records(records, spec)
    embeddings = ev.run_encoder(session(encoder), photos.pixels, config.batch_size)["embedding"]
    cells = ev.nearest_label(finest, photos.lat, photos.lon)
    gallery = build_gallery(
        embeddings, photos.lat, photos.lon, cells, config.gallery_dim, decoding.gallery_top_cells
    )
    write_gallery(gallery, path)
    log.info("gallery: %d photos x %d dimensions", *gallery.embeddings.shape)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _quantize_image(
    fp32: Path, shipped: Path, config: ExportConfig, calib: ev.LabelledPixels | None
) -> dict[str, Any]:
    if config.quantize is Quantize.NONE:
        shutil.copyfile(fp32, shipped)
        return {"method": "none", "weights": "float32"}
    if config.quantize is Quantize.FP16:
        return convert_fp16(fp32, shipped)
    method = config.int8_method
    if method is Int8Method.AUTO:
        method = Int8Method.STATIC_QDQ if is_convolutional(fp32) else Int8Method.DYNAMIC
    if method is Int8Method.DYNAMIC:
        info = quantize_dynamic_int8(fp32, shipped)
    else:
        if calib is None:
            raise DataError("static int8 quantization needs calibration photos")
        info = quantize_static_int8(
            fp32,
            shipped,
            calib.frames,
            batch_size=config.batch_size,
            float_heads=config.int8_float_edges,
            float_stem=config.int8_float_edges,
        )
    info["choice"] = (
        "static QDQ: a convolutional graph"
        if method is Int8Method.STATIC_QDQ
        else "dynamic: a transformer graph (more MatMul than Conv)"
    )
    if config.int8_method is not Int8Method.AUTO:
        info["choice"] = f"asked for {Int8Method(config.int8_method).value}"
    return info
