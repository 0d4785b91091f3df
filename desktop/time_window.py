"""Scan ▸ Time-Neighbour Window: how close in time (seconds) the user's GPS-tagged photos
must be to place a photo by them (``ScanOptions.time_window_s``, the CLI's
``--time-window``). Kept in the settings store; the next scan uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from geoscope_desktop.main_window import MainWindow

#: the longest window offered (s): a day
MAX_WINDOW_S = 24 * 3600


class TimeWindow(QObject):
    """The window's time-neighbour setting: applied to its scanner at start, changed
    from the Scan menu."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._action = window.acts.time_window
        self._action.triggered.connect(lambda _=False: self.choose())
        self.set(window.settings.time_window_s(), save=False)

    @property
    def seconds(self) -> float:
        return self._window.scanner.options.time_window_s

    def set(self, seconds: float, save: bool = True) -> None:
        """Use ``seconds`` (>= 0) from the next scan on."""
        self._window.scanner.set_time_window(seconds)
        if save:
            self._window.settings.set_time_window_s(seconds)
        self._action.setText(f"Time-Neighbour &Window ({seconds:,.0f} s)…")

    def choose(self) -> bool:
        """Ask for the window in seconds; False when the user cancelled."""
        value = self._window.dialogs.number(
            "Time-neighbour window",
            "Place a photo by your GPS-tagged photos taken within this many seconds\n"
            "of it. Used from the next scan on.",
            round(self.seconds),
            MAX_WINDOW_S,
            60,
        )
        if value is None:
            return False
        self.set(value)
        self._window.statusBar().showMessage(
            f"Time-neighbour window: {value:,} s (from the next scan)", 8000
        )
        return True
