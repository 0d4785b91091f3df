from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from geoscope_core import settings
from geoscope_core.errors import BundleError
from geoscope_core.runtime.bundle import bundle_identity, check_bundle, load_bundle
from geoscope_core.runtime.manifest import Manifest, hash_bundle_files
from tests.bundles import make_bundle


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def _rehash(root: Path, **changes) -> None:
    d = json.loads((root / "manifest.json").read_text())
    d.update(changes)
    d["files"] = hash_bundle_files(root)
    (root / "manifest.json").write_text(json.dumps(d))


def test_load_verifies_and_exposes_labels_and_embeddings(zs_bundle: Path) -> None:
    b = load_bundle(zs_bundle)
    assert b.manifest.name == "tiny"
    assert b.model_id == f"tiny@{b.sha256[:12]}" and len(b.sha256) == 64
    assert [r["id"] for r in b.labels("country")][:2] == ["HR", "FR"]
    emb = b.embeddings("city")
    assert emb.dtype == np.float32 and emb.shape == (len(b.labels("city")), 32)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-2)
    assert check_bundle(zs_bundle) == []


def test_tampered_file_is_refused_with_its_name(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    with open(b / "labels" / "city.json", "r+b") as f:
        data = f.read().replace(b"Split", b"Spl1t")
        f.seek(0)
        f.write(data)
    with pytest.raises(BundleError, match=r"labels/city.json .*sha256"):
        load_bundle(b)
    assert any("labels/city.json" in p for p in check_bundle(b))
    load_bundle(b, verify=False)  # still readable when verification is off


def test_missing_and_unlisted_files_are_problems(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    (b / "labels" / "admin1.npy").unlink()
    (b / "extra.onnx").write_bytes(b"x")
    problems = check_bundle(b)
    assert any("missing file labels/admin1.npy" in p for p in problems)
    assert any("extra.onnx is not listed" in p for p in problems)


def test_unknown_format_version_is_refused(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    d = json.loads((b / "manifest.json").read_text())
    d["format_version"] = 99
    (b / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(BundleError, match="format_version 99"):
        load_bundle(b)
    assert check_bundle(b) and "format_version" in check_bundle(b)[0]


def test_embedding_shape_mismatch_is_refused(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    np.save(b / "labels" / "city.npy", np.zeros((3, 32), np.float16))
    _rehash(b)
    with pytest.raises(BundleError, match="embeddings shape"):
        load_bundle(b)


def test_onnx_output_names_are_checked(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    _rehash(b, outputs={"embedding": "image_features"})
    problems = check_bundle(b)
    assert any("no output 'image_features'" in p for p in problems), problems


def test_classifier_output_width_is_checked(cls_bundle: Path, tmp_path: Path) -> None:
    b = _copy(cls_bundle, tmp_path)
    rows = json.loads((b / "labels" / "city.json").read_text())
    (b / "labels" / "city.json").write_text(json.dumps(rows[:-1]))
    _rehash(b)
    assert any("width 11 != 10 city labels" in p for p in check_bundle(b))


def test_zip_bundle_is_extracted_once_into_the_cache(zs_bundle: Path, tmp_path: Path) -> None:
    z = tmp_path / "tiny.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(zs_bundle.rglob("*")):
            if p.is_file():
                zf.write(p, "tiny/" + p.relative_to(zs_bundle).as_posix())
    b = load_bundle(z)
    assert b.sha256 == load_bundle(zs_bundle).sha256
    assert settings.cache_dir() in b.path.parents
    assert load_bundle(z).path == b.path
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(BundleError):
        load_bundle(bad)


def test_zip_with_tampered_member_is_refused(zs_bundle: Path, tmp_path: Path) -> None:
    z = tmp_path / "t.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(zs_bundle.rglob("*")):
            if p.is_file():
                data = p.read_bytes()
                if p.name == "country.json":
                    data = data.replace(b"Croatia", b"Kroatia")
                zf.writestr(p.relative_to(zs_bundle).as_posix(), data)
    with pytest.raises(BundleError, match=r"country\.json"):
        load_bundle(z)


def test_default_bundle_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    make_bundle(models / settings.DEFAULT_MODEL, name=settings.DEFAULT_MODEL)
    monkeypatch.setattr(settings, "models_dir", lambda: models)
    with pytest.raises(BundleError, match=r"shipped default bundle .* was changed"):
        load_bundle()  # not the bundle the code pins
    pin = bundle_identity(models / settings.DEFAULT_MODEL).sha256
    monkeypatch.setattr(settings, "DEFAULT_MODEL_SHA256", pin)
    assert load_bundle().manifest.name == settings.DEFAULT_MODEL
    assert load_bundle("geoscope-lite").manifest.name == settings.DEFAULT_MODEL
    with pytest.raises(BundleError, match=r"no bundle named 'other'.*geoscope-lite"):
        load_bundle("other")


def test_manifest_roundtrip_of_written_bundle(zs_bundle: Path) -> None:
    m = Manifest.read(zs_bundle / "manifest.json")
    assert Manifest.from_dict(m.to_dict()) == m
