"""Undo touches only files GeoScope itself changed, whatever a journal says."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from photos_testutil import PREDICTION, copy_fixture, samples_dir

from geoscope_core.cli import main
from geoscope_core.errors import JournalError
from geoscope_core.photos.journal import JournalEntry, read_journal, signing_key
from geoscope_core.photos.metadata import sidecar_path
from geoscope_core.photos.undo import list_journals, prune, undo
from geoscope_core.photos.writer import write_locations

HEIF = "heic/samplefilehub.heif"


def _written(tmp_path: Path, name: str = "jpg/Canon_40D.jpg") -> tuple[Path, bytes, Path]:
    f = copy_fixture(samples_dir() / name, tmp_path)
    original = f.read_bytes()
    report = write_locations([(f, PREDICTION)], journal_dir=tmp_path / "j")
    assert report.journal is not None
    return f, original, report.journal


def _lines(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def _save(journal: Path, lines: list[dict]) -> None:
    journal.write_text("".join(json.dumps(d) + "\n" for d in lines))


def test_crafted_journal_cannot_delete_or_overwrite_any_file(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    crafted = tmp_path / "evil.jsonl"
    _save(
        crafted,
        [
            {"type": "header", "version": 2, "id": "0" * 16, "backup_dir": "evil.backup"},
            {"type": "change", "target": str(victim), "path": str(victim), "kind": "sidecar",
             "sidecar_created": True, "after_sha256": "0" * 64},
        ],
    )  # fmt: skip
    with pytest.raises(JournalError, match="not written by GeoScope"):
        undo(crafted)  # no key yet: nothing can be trusted
    signing_key(create=True)
    with pytest.raises(JournalError, match="signature"):
        undo(crafted)
    assert victim.read_text() == "precious"
    assert main(["undo", str(crafted)]) == 2


@pytest.mark.parametrize(
    "edit",
    [
        {"backup": "/etc/passwd"},
        {"backup": "../../victim.txt"},
        {"target": "/tmp/elsewhere.jpg"},
        {"mode": 0o4777},
        {"mtime_ns": 10**30},
    ],
)
def test_edited_journal_line_is_refused_as_a_whole(tmp_path: Path, edit: dict) -> None:
    f, _original, journal = _written(tmp_path)
    changed = f.read_bytes()
    lines = _lines(journal)
    lines[1].update(edit)
    _save(journal, lines)
    with pytest.raises(JournalError, match="signature"):
        undo(journal)
    assert f.read_bytes() == changed  # nothing was touched


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "text",
        None,
        {"kind": "in-place", "path": "/a.jpg", "target": "/a.jpg", "after_sha256": "0" * 64,
         "before_sha256": "1" * 64, "backup": "/etc/passwd"},
        {"kind": "in-place", "path": "/a.jpg", "target": "/a.jpg", "after_sha256": "0" * 64,
         "before_sha256": "1" * 64, "backup": "j.backup/../../x"},
        {"kind": "sidecar", "path": "/a.jpg", "target": "/etc/passwd", "after_sha256": "0" * 64},
        {"kind": "in-place", "path": "/a.jpg", "target": "/a.jpg", "after_sha256": "0" * 64,
         "before_sha256": "1" * 64, "backup": "j.backup/1-a.jpg", "mode": 0o4755},
        {"kind": "in-place", "path": "/a.jpg", "target": "/a.jpg", "after_sha256": "0" * 64,
         "before_sha256": "1" * 64, "backup": "j.backup/1-a.jpg", "mtime_ns": 10**30},
        {"kind": "in-place", "path": "a.jpg", "target": "a.jpg", "after_sha256": "0" * 64,
         "before_sha256": "1" * 64, "backup": "j.backup/1-a.jpg"},
    ],
)  # fmt: skip
def test_even_a_signed_entry_is_checked_field_by_field(body: object) -> None:
    """Defence in depth: a change line must be self-consistent even when its signature is
    valid (so a bug in the writer cannot make undo touch other files)."""
    with pytest.raises(JournalError):
        JournalEntry.from_json(body, "j.backup")


def test_target_swapped_for_a_link_or_fifo_is_refused(tmp_path: Path) -> None:
    f, _original, journal = _written(tmp_path)
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(f.read_bytes())
    f.unlink()
    f.symlink_to(elsewhere)
    (r,) = undo(journal)
    assert r.action == "refused" and "regular file" in r.reason
    f.unlink()
    os.mkfifo(f)  # hashing a FIFO would hang
    (r,) = undo(journal)
    assert r.action == "refused"


def test_truncated_journal_and_non_journal_are_reported(tmp_path: Path, capsys) -> None:
    f, original, journal = _written(tmp_path)
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]))  # the end record is gone
    assert main(["undo", str(journal)]) == 1
    out = capsys.readouterr().out
    assert "incomplete" in out and "1 restored" in out
    assert f.read_bytes() == original
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    assert main(["undo", str(notes)]) == 2
    assert "not a GeoScope journal" in capsys.readouterr().err


def test_unsafe_signing_key_is_refused(tmp_path: Path) -> None:
    _f, _original, journal = _written(tmp_path)
    key = Path(os.environ["GEOSCOPE_STATE_DIR"]) / "journal.key"
    key.chmod(0o644)
    try:
        with pytest.raises(JournalError, match="only you can read"):
            read_journal(journal)
    finally:
        key.chmod(0o600)
    assert len(signing_key()) == 32


def test_backups_sidecars_and_journals_are_as_private_as_the_photo(tmp_path: Path) -> None:
    f = copy_fixture(samples_dir() / "jpg" / "Canon_40D.jpg", tmp_path)
    h = copy_fixture(samples_dir() / HEIF, tmp_path)
    f.chmod(0o600)
    h.chmod(0o600)
    report = write_locations([(f, PREDICTION), (h, PREDICTION)], journal_dir=tmp_path / "j")
    assert [r.action for r in report.results] == ["written", "sidecar"]
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(sidecar_path(h).stat().st_mode) == 0o600
    verified = read_journal(report.journal)
    backups = [report.journal.parent / e.backup for e in verified.entries if e.backup]
    assert backups and all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in backups)
    assert stat.S_IMODE(report.journal.stat().st_mode) == 0o600
    assert stat.S_IMODE(verified.backup_dir.stat().st_mode) == 0o700


def test_prune_removes_old_journals_and_reports_sizes(tmp_path: Path, capsys) -> None:
    _f, _original, journal = _written(tmp_path)
    (info,) = list_journals(tmp_path / "j")
    assert info.size_bytes > journal.stat().st_size  # the backup counts
    assert prune(30, tmp_path / "j") == []
    old = time.time() - 40 * 86400
    os.utime(journal, (old, old))
    assert main(["undo", "--list", "--journal-dir", str(tmp_path / "j")]) == 0
    assert "1 journal(s) kept" in capsys.readouterr().out
    assert main(["undo", "--prune", "--journal-dir", str(tmp_path / "j")]) == 0
    assert "removed 1 journal(s)" in capsys.readouterr().out
    assert not journal.exists() and not journal.with_suffix(".backup").exists()
