"""A bundle's identity covers its manifest, and odd files or zip entries are refused."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from geoscope_core.cli import main
from geoscope_core.runtime.bundle import bundle_identity, check_bundle, load_bundle


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def test_edited_manifest_changes_the_model_id_and_fails_a_pin(
    zs_bundle: Path, tmp_path: Path, capsys
) -> None:
    trusted = load_bundle(zs_bundle)
    b = _copy(zs_bundle, tmp_path)
    doc = json.loads((b / "manifest.json").read_text())
    doc["temperature"] = 0.5  # in range, but sharper than the model was calibrated
    (b / "manifest.json").write_text(json.dumps(doc))
    edited = load_bundle(b)  # every listed file still matches its hash ...
    assert edited.model_id != trusted.model_id  # ... but it is another model
    assert check_bundle(b) == []
    problems = check_bundle(b, trusted.model_id)
    assert len(problems) == 1 and "not the pinned" in problems[0]
    assert check_bundle(zs_bundle, trusted.model_id) == []
    assert check_bundle(zs_bundle, trusted.sha256[:12]) == []
    assert main(["bundle", "check", str(b), "--model-id", trusted.model_id]) == 2
    out = capsys.readouterr().out
    assert edited.model_id in out and "not the pinned" in out


def test_reformatting_the_manifest_keeps_the_identity(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    doc = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps(doc, indent=7, sort_keys=False))
    assert bundle_identity(b).sha256 == bundle_identity(zs_bundle).sha256


def test_scan_refuses_a_bundle_that_is_not_the_pinned_one(
    zs_bundle: Path, tmp_path: Path, capsys
) -> None:
    from tests.bundles import RED, write_jpeg

    photo = write_jpeg(tmp_path / "p" / "red.jpg", RED)
    assert main(["scan", str(photo), "--model", str(zs_bundle), "--model-id", "tiny@000000000000",
                 "--no-progress"]) == 2  # fmt: skip
    assert "not the model you pinned" in capsys.readouterr().err
    ident = bundle_identity(zs_bundle).model_id
    assert main(["scan", str(photo), "--model", str(zs_bundle), "--model-id", ident,
                 "--no-progress"]) == 0  # fmt: skip
    assert ident in capsys.readouterr().out


def test_hidden_and_linked_files_are_refused(zs_bundle: Path, tmp_path: Path) -> None:
    b = _copy(zs_bundle, tmp_path)
    (b / ".hidden.onnx").write_bytes(b"x")
    (b / "labels" / ".extra.json").write_text("[]")
    (b / "link.json").symlink_to(b / "labels" / "country.json")
    problems = check_bundle(b)
    assert any(".hidden.onnx is not listed" in p for p in problems)
    assert any("labels/.extra.json is not listed" in p for p in problems)
    assert any("link.json is a symbolic link" in p for p in problems)


def test_zip_with_odd_entry_names_is_refused(zs_bundle: Path, tmp_path: Path) -> None:
    for i, odd in enumerate(["labels\\city.json", "../escape.json", "/abs.json", "a/./b.json"]):
        z = tmp_path / f"b{i}.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for p in sorted(zs_bundle.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(zs_bundle).as_posix())
            zf.writestr(odd, "[]")
        problems = check_bundle(z)
        assert problems and "not plain relative paths" in problems[0], (odd, problems)
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for p in sorted(zs_bundle.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(zs_bundle).as_posix())
    assert check_bundle(good) == []
    assert check_bundle(good) == []  # the second time from the extracted cache
