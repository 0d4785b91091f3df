"""The app's persisted settings, over a ``QSettings`` the caller provides."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QSplitter, QWidget

from geoscope_desktop.workers import PROVIDERS, ModelChoice

MAX_RECENT = 8
#: folders whose track logs and clock offsets are remembered
MAX_EVIDENCE_FOLDERS = 50
#: Where ``QSettings`` keeps the app's settings by default.
ORGANIZATION = "GeoScope"
APPLICATION = "GeoScope"


class AppSettings:
    """Typed access to ``QSettings`` (recent folders, model, provider, layout, last journal)."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    # recent folders, most recent first
    def recent_folders(self) -> list[Path]:
        raw = self.store.value("recent_folders", [])
        if isinstance(raw, str):  # an ini file gives back a one-item list as its item
            raw = [raw]
        # What ``add_recent_folder`` stored: a list of str (None or empty when cleared).
        return [Path(p) for p in cast("list[str]", raw or []) if p]

    def add_recent_folder(self, folder: Path) -> list[Path]:
        folders = [folder, *[f for f in self.recent_folders() if f != folder]][:MAX_RECENT]
        self.store.setValue("recent_folders", [str(f) for f in folders])
        return folders

    def clear_recent_folders(self) -> None:
        self.store.setValue("recent_folders", [])

    # model
    def model_choice(self) -> ModelChoice:
        model = self.store.value("model", "") or None
        provider = str(self.store.value("provider", "auto") or "auto")
        if provider not in PROVIDERS:
            provider = "auto"
        return ModelChoice(model=str(model) if model else None, provider=provider)

    def set_model_choice(self, choice: ModelChoice) -> None:
        self.store.setValue("model", choice.model or "")
        self.store.setValue("provider", choice.provider)

    # review
    def threshold(self) -> float:
        try:
            value = float(self.store.value("unconfident_below", 0.5))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = 0.5
        return min(1.0, max(0.0, value))

    def set_threshold(self, value: float) -> None:
        self.store.setValue("unconfident_below", float(value))

    # scan
    def time_window_s(self) -> float:
        """Seconds within which a same-camera GPS photo places a photo by time."""
        from geoscope_core.scan.types import ScanOptions

        default = ScanOptions().time_window_s
        try:
            value = float(self.store.value("scan/time_window_s", default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = default
        return value if value >= 0 else default

    def set_time_window_s(self, seconds: float) -> None:
        self.store.setValue("scan/time_window_s", float(seconds))

    # view
    def filmstrip_shown(self) -> bool:
        return str(self.store.value("view/filmstrip", "false")).lower() == "true"

    def set_filmstrip_shown(self, shown: bool) -> None:
        self.store.setValue("view/filmstrip", "true" if shown else "false")

    def follow_selection(self) -> bool:
        """Whether the map re-centres on the photo selected (off: it stays still)."""
        return str(self.store.value("view/follow_selection", "false")).lower() == "true"

    def set_follow_selection(self, follow: bool) -> None:
        self.store.setValue("view/follow_selection", "true" if follow else "false")

    # the user's evidence per folder: track logs, camera clock offsets (s), time zone
    def folder_evidence(self, folder: Path) -> tuple[list[Path], dict[str, float]]:
        """The track logs and clock offsets last used with ``folder``."""
        entry = self._evidence_table().get(str(folder), {})
        tracks = [Path(p) for p in entry.get("tracks", []) if isinstance(p, str)]
        offsets = {
            str(c): float(v)
            for c, v in dict(entry.get("offsets", {})).items()
            if isinstance(v, int | float)
        }
        return tracks, offsets

    def folder_zone(self, folder: Path) -> str | None:
        """The time zone of camera clocks last chosen for ``folder`` (None: automatic)."""
        zone = self._evidence_table().get(str(folder), {}).get("tz")
        return zone if isinstance(zone, str) and zone else None

    def set_folder_evidence(
        self,
        folder: Path,
        tracks: Sequence[Path],
        offsets: dict[str, float],
        zone: str | None = None,
    ) -> None:
        table = self._evidence_table()
        table.pop(str(folder), None)
        entry = {"tracks": [str(p) for p in tracks], "offsets": dict(offsets), "tz": zone or ""}
        table[str(folder)] = entry
        kept = dict(list(table.items())[-MAX_EVIDENCE_FOLDERS:])  # the most recent folders
        self.store.setValue("evidence/by_folder", json.dumps(kept))

    def _evidence_table(self) -> dict[str, dict]:
        try:
            table = json.loads(str(self.store.value("evidence/by_folder", "{}") or "{}"))
        except ValueError:
            return {}
        return table if isinstance(table, dict) else {}

    # last write journal (so "Undo last write" survives a restart)
    def last_journal(self) -> Path | None:
        raw = self.store.value("last_journal", "")
        return Path(str(raw)) if raw else None

    def set_last_journal(self, journal: Path | None) -> None:
        self.store.setValue("last_journal", str(journal) if journal else "")

    # window layout
    def geometry(self, key: str) -> QByteArray | None:
        value = self.store.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"layout/{key}", value)

    def restore_layout(self, window: QWidget, splitters: dict[str, QSplitter]) -> None:
        """Put ``window``'s geometry and its ``splitters`` back as they were saved."""
        geo = self.geometry("window")
        if geo is not None:
            window.restoreGeometry(geo)
        for key, splitter in splitters.items():
            state = self.geometry(key)
            if state is not None:
                splitter.restoreState(state)

    def save_layout(self, window: QWidget, splitters: dict[str, QSplitter]) -> None:
        self.set_geometry("window", window.saveGeometry())
        for key, splitter in splitters.items():
            self.set_geometry(key, splitter.saveState())
        self.sync()

    def sync(self) -> None:
        self.store.sync()


def make_settings(path: Path | None) -> AppSettings:
    """The app's settings: in the INI file ``path``, or the platform's default store."""
    if path is not None:
        return AppSettings(QSettings(str(path), QSettings.Format.IniFormat))
    return AppSettings(QSettings(ORGANIZATION, APPLICATION))
