"""``geoscope export`` from the command line, checked with ``geoscope bundle check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoscope_core.cli import main
from geoscope_core.runtime.manifest import Manifest


def test_export_command_writes_a_bundle_that_passes_check(
    tiny_cnn_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli-bundle"
    argv = ["export", str(tiny_cnn_checkpoint), "--out", str(out), "--quantize", "fp16",
            "--no-val", "--name", "cli-test", "--zip"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().endswith("cli-bundle.zip")
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.name == "cli-test" and manifest.quantization["method"] == "fp16"
    assert main(["bundle", "check", str(out)]) == 0
    assert main(["bundle", "check", str(out.with_suffix(".zip"))]) == 0
    # a second export into the same folder is refused unless --force
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_export_command_reports_a_missing_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "b")]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_export_command_rejects_bad_options(tiny_cnn_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(
            ["export", str(tiny_cnn_checkpoint), "--out", str(tmp_path / "b"), "--quantize", "int4"]
        )
    assert main(["export", str(tiny_cnn_checkpoint), "--out", str(tmp_path / "b"),
                 "--levels", "country,street"]) == 2  # fmt: skip
