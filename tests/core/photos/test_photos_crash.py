"""Crash safety: a child process writing a batch is SIGKILLed at random moments.

Afterwards every photo is either its original or its complete new version
(compared by SHA-256), and undo with whatever journal the child left restores
every original byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from photos_testutil import PREDICTION, copy_fixture, samples_dir

from geoscope_core.fsio import LOCK_NAME, TEMP_SUFFIX
from geoscope_core.photos.undo import undo
from geoscope_core.photos.writer import write_locations

CHILD = r"""
import json, sys
from pathlib import Path
from geoscope_core.photos.writer import write_locations
from geoscope_core.prediction import Prediction
pred = Prediction.from_dict(json.loads(sys.argv[1]))
files = [Path(p) for p in sys.argv[3:]]
print("ready", flush=True)
sys.stdin.readline()
write_locations([(f, pred) for f in files], journal_dir=Path(sys.argv[2]))
print("done", flush=True)
"""

SOURCES = ["jpg/gps/DSCN0010.jpg", "jpg/Canon_40D.jpg", "jpg/hdr/canon_hdr_NO.jpg",
           "tiff/BSG1.tiff", "heic/samplefilehub.heif", "jpg/exif-org/nikon-e950.jpg"]  # fmt: skip
TRIALS = 24


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_batch(folder: Path) -> list[Path]:
    folder.mkdir()
    out = []
    for k in range(3):
        for s in SOURCES:
            src = samples_dir() / s
            out.append(copy_fixture(src, folder, f"{k}_{src.name}"))
    return out


def spawn(files: list[Path], journal_dir: Path) -> subprocess.Popen[str]:
    pred = PREDICTION.to_dict()
    pred["lat"], pred["lon"] = 12.5, 41.9  # a photo with camera GPS is skipped either way
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(pred), str(journal_dir), *map(str, files)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_kill_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(1234)
    # Reference run: the complete new version of every file, and how long a batch takes.
    ref_files = make_batch(tmp_path / "ref")
    originals = {f.name: f.read_bytes() for f in ref_files}
    child = spawn(ref_files, tmp_path / "ref-journal")
    assert child.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    batch_s = time.monotonic() - t0
    child.wait(timeout=30)
    complete = {f.name: f.read_bytes() for f in ref_files}
    complete_sidecars = {p.name: p.read_bytes() for p in (tmp_path / "ref").glob("*.xmp")}
    assert sum(complete[n] != originals[n] for n in originals) >= 9
    assert complete_sidecars

    outcomes = {"original": 0, "new": 0}
    for trial in range(TRIALS):
        folder = tmp_path / f"t{trial}"
        journal_dir = tmp_path / f"j{trial}"
        files = make_batch(folder)
        child = spawn(files, journal_dir)
        assert child.stdout.readline().strip() == "ready"
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(rng.uniform(0.0, batch_s * 1.1))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)

        for f in files:
            data = f.read_bytes()
            assert data in (originals[f.name], complete[f.name]), f"{f.name} is torn"
            outcomes["original" if data == originals[f.name] else "new"] += 1
        for sc in folder.glob("*.xmp"):
            assert sc.read_bytes() == complete_sidecars[sc.name], f"{sc.name} is torn"
        for tmp in folder.iterdir():  # only whole photos, sidecars and our temporary files
            assert (
                tmp.name in originals
                or tmp.suffix == ".xmp"
                or tmp.name.endswith(TEMP_SUFFIX)
                or tmp.name == LOCK_NAME
            )

        journals = list(journal_dir.glob("*.jsonl")) if journal_dir.exists() else []
        assert len(journals) <= 1
        for j in journals:
            results = undo(j)
            # A killed batch has no end record: undo says so, besides restoring every file.
            assert all(
                r.action in ("restored", "removed-sidecar")
                or (r.action == "incomplete" and r.path == j)
                for r in results
            ), results
        for f in files:
            assert f.read_bytes() == originals[f.name], f"{f.name} not restored"
        assert not list(folder.glob("*.xmp"))
    # The kills landed both before and after files were replaced.
    assert outcomes["original"] > 0 and outcomes["new"] > 0, outcomes


def test_journal_written_before_the_file_is_replaced(tmp_path: Path) -> None:
    """If the process dies between the journal line and the rename, undo still copes."""
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    original = f.read_bytes()
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    # Simulate "journal written, rename never happened": put the original back.
    f.write_bytes(original)
    (r,) = undo(report.journal)
    assert r.action == "restored" and "already" in r.reason
    assert f.read_bytes() == original
    assert sha(original) == json.loads(report.journal.read_text().splitlines()[1])["before_sha256"]
