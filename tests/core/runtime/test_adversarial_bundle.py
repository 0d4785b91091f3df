"""Hostile bundles: what is loaded is what was shipped, every manifest value is in its
range, ``bundle check`` refuses what scan refuses, and no file makes the runtime read,
allocate or unpack more than ``runtime.limits`` allows."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geoscope_core import settings
from geoscope_core.cli import main
from geoscope_core.errors import BundleError
from geoscope_core.runtime import gallery as gallery_mod
from geoscope_core.runtime import limits
from geoscope_core.runtime.bundle import bundle_identity, check_bundle, load_bundle
from geoscope_core.runtime.gallery import build_gallery, write_gallery
from geoscope_core.runtime.locate import resolve_bundle_path, shipped_default
from geoscope_core.runtime.manifest import hash_bundle_files
from tests.bundles import RED, make_bundle, write_jpeg


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit(root: Path, path: str, value: Any, rehash: bool = False) -> None:
    """Set the manifest value at dotted ``path`` (``a.b.c``; ``a.0`` indexes a list)."""
    doc = json.loads((root / "manifest.json").read_text())
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    if rehash:
        doc["files"] = hash_bundle_files(root)
    (root / "manifest.json").write_text(json.dumps(doc))  # NaN/Infinity as Python writes them


def _zip(folder: Path, out: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out


def _cache_leftovers() -> list[str]:
    bundles = settings.cache_dir() / "bundles"
    return sorted(p.name for p in bundles.iterdir()) if bundles.exists() else []


# -- the shipped default bundle is pinned ---------------------------------------------------


def test_the_pin_is_the_shipped_bundles_id() -> None:
    """A re-exported default bundle must come with its new pin (one line in settings)."""
    shipped = bundle_identity(shipped_default())
    assert shipped.sha256 == settings.DEFAULT_MODEL_SHA256, (
        f"settings.DEFAULT_MODEL_SHA256 is stale: the shipped bundle is {shipped.model_id} "
        f"(sha256 {shipped.sha256})"
    )
    assert resolve_bundle_path(None) == shipped_default()


@pytest.fixture()
def pinned_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small bundle installed as the shipped default, with the code pinning it."""
    models = tmp_path / "models"
    default = make_bundle(models / settings.DEFAULT_MODEL, name=settings.DEFAULT_MODEL)
    monkeypatch.setattr(settings, "models_dir", lambda: models)
    monkeypatch.setattr(settings, "DEFAULT_MODEL_SHA256", bundle_identity(default).sha256)
    return default


def test_an_edited_default_bundle_is_refused_by_load_check_and_scan(
    pinned_default: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_bundle().name == settings.DEFAULT_MODEL and check_bundle(pinned_default) == []
    _edit(pinned_default, "temperature", 3.0)  # in range, hashes intact: only the pin knows
    with pytest.raises(BundleError, match=r"shipped default bundle .* was changed"):
        load_bundle()
    with pytest.raises(BundleError, match="was changed"):
        load_bundle(settings.DEFAULT_MODEL)
    assert any("was changed" in p for p in check_bundle(pinned_default))
    assert main(["bundle", "check", settings.DEFAULT_MODEL]) == 2
    assert "DEFAULT_MODEL_SHA256" in capsys.readouterr().out
    photo = write_jpeg(tmp_path / "p" / "red.jpg", RED)
    assert main(["scan", str(photo), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "was changed" in err and "Traceback" not in err
    # a copy elsewhere is another model the user chose by path (and may pin with --model-id)
    moved = _copy(pinned_default, tmp_path / "mine")
    assert load_bundle(moved).manifest.temperature == 3.0


def test_a_folder_named_like_the_default_in_the_working_folder_is_not_loaded(
    pinned_default: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    make_bundle(work / settings.DEFAULT_MODEL, name=settings.DEFAULT_MODEL, temperature=0.5)
    monkeypatch.chdir(work)
    assert load_bundle().path == pinned_default


# -- every manifest value is validated ------------------------------------------------------

NAN, INF = float("nan"), float("inf")
BAD_VALUES = [
    ("temperature", NAN, "temperature"),
    ("temperature", 0.01, "temperature"),
    ("temperature", INF, "temperature"),
    ("temperature", "2.0", "temperature"),
    ("logit_scale", 0.0, "logit_scale"),
    ("logit_scale", 1e9, "logit_scale"),
    ("embedding_dim", -1, "embedding_dim"),
    ("embedding_dim", 10**6, "embedding_dim"),
    ("decoding.min_radius_km", NAN, "decoding.min_radius_km"),
    ("decoding.min_radius_km", 0.0, "decoding.min_radius_km"),
    ("decoding.refine_radius_km", 1e6, "decoding.refine_radius_km"),
    ("decoding.top_k", 0, "decoding.top_k"),
    ("decoding.top_k", 2.5, "decoding.top_k"),
    ("decoding.beam", 10**30, "decoding.beam"),
    ("decoding.refine_k", True, "decoding.refine_k"),
    ("decoding.gallery_top_cells", 0, "decoding.gallery_top_cells"),
    ("decoding.cities_per_country", -3, "decoding.cities_per_country"),
    ("decoding.gallery", "../../etc/passwd", "decoding.gallery"),
    ("decoding.gallery", "/etc/passwd", "decoding.gallery"),
    ("decoding.gallery", "gallery.npz", "decoding.gallery"),  # not listed in files
    ("input.size", 224.5, "input.size"),
    ("input.size", 100_000, "input.size"),
    ("input.mean", [NAN, 0.5, 0.5], "input.mean[0]"),
    ("input.std", [0.2, 0.0, 0.2], "input.std[1]"),
    ("input.views", ["center", "center"], "input.views"),
    ("input.views", ["sideways"], "input.views"),
    ("error_model", {"confidence": [0.0, NAN], "radius_km": [900.0, 10.0]}, "confidence[1]"),
    ("error_model", {"confidence": [0.5, 0.1], "radius_km": [900.0, 10.0]}, "ascending"),
    ("error_model", {"confidence": [0.0], "radius_km": [-5.0]}, "radius_km[0]"),
    ("levels.0.labels", "../labels/country.json", "levels.country.labels"),
    ("files.extra", "not a hash", "files['extra']"),
    ("name", "tiny@000000000000", "name"),
]


@pytest.mark.parametrize(("path", "value", "named"), BAD_VALUES)
def test_a_bad_manifest_value_is_refused_naming_its_field_by_load_check_and_scan(
    zs_bundle: Path, tmp_path: Path, path: str, value: Any, named: str
) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    _edit(b, path, value)
    with pytest.raises(BundleError, match=r"manifest field|input\.views|error_model") as e:
        load_bundle(b)
    assert named in str(e.value)
    problems = check_bundle(b)
    assert problems == [str(e.value)]  # bundle check says what loading refuses


def test_bundle_check_refuses_a_gallery_outside_the_bundle_as_scan_does(
    zs_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    _edit(b, "decoding.gallery", "../../etc/passwd")
    assert main(["bundle", "check", str(b)]) == 2
    out = capsys.readouterr().out
    assert "decoding.gallery" in out and "plain relative path" in out
    photo = write_jpeg(tmp_path / "p" / "red.jpg", RED)
    assert main(["scan", str(photo), "--model", str(b), "--no-progress"]) == 2
    assert "decoding.gallery" in capsys.readouterr().err


@pytest.mark.parametrize(
    "label_edit",
    [
        lambda rows: rows[:-1],  # fewer labels than embedding rows
        lambda rows: [{**rows[0], "lat": 10**400}, *rows[1:]],  # a number beyond float
        lambda rows: [{**rows[0], "lat": float("nan")}, *rows[1:]],
        lambda rows: [{**rows[0], "id": {"a": 1}}, *rows[1:]],
    ],
)
def test_label_files_that_do_not_fit_are_refused_alike(
    zs_bundle: Path, tmp_path: Path, label_edit: Any
) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    labels = b / "labels" / "city.json"
    labels.write_text(json.dumps(label_edit(json.loads(labels.read_text()))))
    _edit(b, "format_version", 1, rehash=True)
    with pytest.raises(BundleError, match="city") as e:
        load_bundle(b)
    assert check_bundle(b) and check_bundle(b)[0] in str(e.value)


# -- JSON that is nested too deeply or holds numbers too large ------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"deep": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"deep": ' + "[" * 100 + "]" * 100 + "}", "nested deeper than 64"),
        ('{"big": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_hostile_json_in_a_manifest_is_a_clear_error(
    zs_bundle: Path, tmp_path: Path, text: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    doc = (b / "manifest.json").read_text()
    (b / "manifest.json").write_text(doc.rstrip()[:-1] + ', "metrics": ' + text + "}")
    with pytest.raises(BundleError, match=expected):
        load_bundle(b)
    assert expected in check_bundle(b)[0]
    assert main(["bundle", "check", str(b)]) == 2
    assert main(["bundle", "info", str(b)]) == 2
    captured = capsys.readouterr()
    assert expected in captured.out + captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("number", ["1e999", "1" + "0" * 400, "-1e999"])
def test_numbers_beyond_a_float_are_refused_by_field(
    zs_bundle: Path, tmp_path: Path, number: str
) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    doc = json.loads((b / "manifest.json").read_text())
    doc["temperature"] = "@@"
    (b / "manifest.json").write_text(json.dumps(doc).replace('"@@"', number))
    with pytest.raises(BundleError, match="manifest field temperature"):
        load_bundle(b)


def test_a_deeply_nested_label_file_is_a_clear_error(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    (b / "labels" / "city.json").write_text("[" * 50_000 + "]" * 50_000)
    _edit(b, "format_version", 1, rehash=True)
    with pytest.raises(BundleError, match=r"label file .*city.json is nested too deeply"):
        load_bundle(b)


def test_a_fifo_in_place_of_a_bundle_file_is_refused_without_blocking(
    zs_bundle: Path, tmp_path: Path
) -> None:
    b = _copy(zs_bundle, tmp_path / "b")
    (b / "manifest.json").unlink()
    os.mkfifo(b / "manifest.json")
    with pytest.raises(BundleError, match="not a regular file"):
        load_bundle(b)
    c = _copy(zs_bundle, tmp_path / "c")
    (c / "labels" / "city.npy").unlink()
    os.mkfifo(c / "labels" / "city.npy")
    problems = check_bundle(c)
    assert problems and "labels/city.npy" in problems[0]


def test_bundle_files_beyond_the_size_limit_are_refused_unread(
    zs_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geoscope_core.runtime import bundle as bundle_mod

    def refuse(path: Path) -> str:
        raise AssertionError(f"hashed {path} of a bundle beyond the limit")

    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 1000)
    monkeypatch.setattr(bundle_mod, "sha256_file", refuse)
    with pytest.raises(BundleError, match="more than the 1,000 allowed"):
        load_bundle(zs_bundle)


# -- galleries are judged from their headers before allocation ------------------------------


@pytest.fixture()
def gallery_bundle(cls_bundle: Path, tmp_path: Path) -> Path:
    b = _copy(cls_bundle, tmp_path / "g")
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((6, 32)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    write_gallery(
        build_gallery(emb, np.zeros(6), np.zeros(6), np.arange(6), dim=4), b / "gallery.npz"
    )
    _edit(b, "decoding.gallery", "gallery.npz", rehash=True)
    assert check_bundle(b) == [] and load_bundle(b).gallery() is not None
    return b


def _replace_member(npz: Path, name: str, data: bytes, compress: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(npz) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members[name] = data
    with zipfile.ZipFile(npz, "w") as zf:
        for member, content in members.items():
            zf.writestr(member, content, compress_type=compress if member == name else None)


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf,
        {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": shape,
        },
    )
    return buf.getvalue()


@pytest.fixture()
def no_array_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a gallery's arrays are loaded at all."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("np.load ran on a gallery that should be refused from its headers")

    monkeypatch.setattr(gallery_mod.np, "load", refuse)


@pytest.mark.parametrize(
    ("member", "content", "expected"),
    [
        # a header declaring 12 GB of embeddings in a member of a few bytes
        ("embeddings.npy", _npy_header((3_000_000, 1024), "<f4") + b"\0" * 64, "declares"),
        ("mean.npy", _npy_header((33,), "<f4") + b"\0" * 132, "mean has shape"),
        ("cell.npy", _npy_header((6,), "|O") + b"\0" * 48, "Python objects"),
        ("lat.npy", _npy_header((6,), "<U4") + b"\0" * 96, "dtype <U4"),
    ],
)
def test_a_hostile_gallery_is_refused_from_its_headers(
    gallery_bundle: Path, member: str, content: bytes, expected: str, no_array_loading: None
) -> None:
    _replace_member(gallery_bundle / "gallery.npz", member, content)
    _edit(gallery_bundle, "format_version", 1, rehash=True)
    with pytest.raises(BundleError, match=expected) as e:
        load_bundle(gallery_bundle)
    assert check_bundle(gallery_bundle)[0] in str(e.value)


def test_a_gallery_zip_bomb_is_refused_from_its_directory(
    gallery_bundle: Path, no_array_loading: None
) -> None:
    n = 70 << 20  # 70 MB of zeros deflate to about 70 kB: beyond the ratio allowed
    bomb = _npy_header((n // 2 // 4, 4), "<f2") + bytes(n)
    _replace_member(gallery_bundle / "gallery.npz", "embeddings.npy", bomb, zipfile.ZIP_DEFLATED)
    _edit(gallery_bundle, "format_version", 1, rehash=True)
    assert (gallery_bundle / "gallery.npz").stat().st_size < limits.ZIP_RATIO_FLOOR // 100
    with pytest.raises(BundleError, match="zip bomb"):
        load_bundle(gallery_bundle)


def test_a_gallery_over_the_size_limit_is_refused(
    gallery_bundle: Path, monkeypatch: pytest.MonkeyPatch, no_array_loading: None
) -> None:
    monkeypatch.setattr(gallery_mod, "MAX_GALLERY_BYTES", 256)
    with pytest.raises(BundleError, match="more than the 256 allowed"):
        load_bundle(gallery_bundle)


# -- bundle zips are judged from their directory, and refusals leave no cache ---------------


def test_a_bundle_zip_bomb_is_refused_before_extraction(zs_bundle: Path, tmp_path: Path) -> None:
    z = _zip(zs_bundle, tmp_path / "bomb.zip", {"pad.bin": bytes(100 << 20)})
    assert z.stat().st_size < 1 << 20
    problems = check_bundle(z)
    assert len(problems) == 1 and "zip bomb" in problems[0]
    with pytest.raises(BundleError, match="zip bomb"):
        load_bundle(z)
    assert _cache_leftovers() == []


def test_a_zip_of_many_entries_is_refused(zs_bundle: Path, tmp_path: Path) -> None:
    extra = {f"x/{i}.json": b"" for i in range(limits.MAX_ZIP_MEMBERS)}
    with pytest.raises(BundleError, match="entries, more than the 1000 allowed"):
        load_bundle(_zip(zs_bundle, tmp_path / "many.zip", extra))
    assert _cache_leftovers() == []


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    "extra",
    [
        {"unlisted.onnx": b"x" * 4096},  # extracted, then refused: not in the manifest
        {"labels/country.json": b"[]"},  # a second member of the same name, tampered
    ],
)
def test_a_refused_zip_leaves_nothing_in_the_cache(
    zs_bundle: Path, tmp_path: Path, extra: dict[str, bytes]
) -> None:
    z = _zip(zs_bundle, tmp_path / "bad.zip", extra)
    with pytest.raises(BundleError):
        load_bundle(z)
    assert _cache_leftovers() == []
    assert check_bundle(z)
    assert _cache_leftovers() == []
    good = _zip(zs_bundle, tmp_path / "good.zip")
    assert load_bundle(good).sha256 == bundle_identity(zs_bundle).sha256
    assert len(_cache_leftovers()) == 2  # the good one's folder and its marker stay


def test_limits_round_trip_a_real_bundle(zs_bundle: Path) -> None:
    """The limits leave room for real bundles: the test bundle and the shipped one."""
    assert check_bundle(zs_bundle) == []
    shipped = load_bundle(None)
    g = shipped.gallery()
    assert g is not None and g.embeddings.shape[0] > 1000
    assert math.isfinite(shipped.manifest.temperature)
