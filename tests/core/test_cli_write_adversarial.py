"""``geoscope scan --write`` on unlucky folders: one bad file never stops the batch,
links out of the folder are not written through, names cannot drive the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoscope_core.cli import main
from tests.bundles import BLUE, RED, anchors_of, make_bundle, write_jpeg


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSCOPE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(
        tmp_path_factory.mktemp("b") / "tiny", anchors=anchors_of("HR", "JP"), logit_scale=50.0
    )


def test_write_batch_goes_on_past_long_names_links_and_escapes(
    bundle: Path, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "photos"
    outside = write_jpeg(tmp_path / "elsewhere" / "private.jpg", BLUE)
    files = [
        write_jpeg(root / "a.jpg", RED),
        write_jpeg(root / ("x" * 246 + ".jpg"), RED),  # a 250-byte name
        write_jpeg(root / "\x1b[2Jz.jpg", BLUE),
    ]
    (root / "link.jpg").symlink_to(outside)
    before = {f: f.read_bytes() for f in [*files, outside]}
    rc = main(["scan", str(root), "--model", str(bundle), "--write", "--no-progress"])
    out, _ = capsys.readouterr()
    assert rc == 0, out
    assert "\x1b" not in out
    assert "symbolic link to" in out and "--follow-links" in out
    assert outside.read_bytes() == before[outside]
    assert all(f.read_bytes() != before[f] for f in files)
    assert "write: skipped 1, written 3" in out
    journal = out.split("journal: ")[1].split()[0]
    assert main(["undo", journal]) == 0
    assert "\x1b" not in capsys.readouterr().out
    assert {f: f.read_bytes() for f in [*files, outside]} == before
