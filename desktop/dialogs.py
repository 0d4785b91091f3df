"""Every dialog the main window opens, in one object tests can replace.

The window never calls ``QMessageBox``/``QFileDialog`` directly; it asks its
``Dialogs``, so a test swaps in answers and nothing modal blocks it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)


class Dialogs:
    """Modal dialogs parented to ``parent``."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent

    def choose_folder(self, title: str, start: Path | None = None) -> Path | None:
        """A folder the user picked, or None when they cancelled."""
        chosen = QFileDialog.getExistingDirectory(self._parent, title, str(start or Path.home()))
        return Path(chosen) if chosen else None

    def open_file(self, title: str, filters: str) -> Path | None:
        """A file to open, or None when the user cancelled."""
        chosen, _ = QFileDialog.getOpenFileName(self._parent, title, str(Path.home()), filters)
        return Path(chosen) if chosen else None

    def open_files(self, title: str, filters: str = "") -> list[Path]:
        """Files to open ([] when the user cancelled)."""
        chosen, _ = QFileDialog.getOpenFileNames(self._parent, title, str(Path.home()), filters)
        return [Path(c) for c in chosen]

    def save_file(self, title: str, start: Path, filters: str) -> Path | None:
        """A file name to save to, or None when the user cancelled."""
        chosen, _ = QFileDialog.getSaveFileName(self._parent, title, str(start), filters)
        return Path(chosen) if chosen else None

    def confirm(self, title: str, text: str, details: str = "", ok_text: str = "OK") -> bool:
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setInformativeText(details)
        ok = box.addButton(ok_text, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(ok)
        box.exec()
        return box.clickedButton() is ok

    def unwritten(self, n: int) -> str:
        """Quitting with ``n`` accepted locations not written: "write", "quit" or "cancel"."""
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit GeoScope")
        box.setText(f"{n} accepted location{'s are' if n != 1 else ' is'} not written yet.")
        box.setInformativeText(
            "Your decisions are kept for this folder and come back when you open it again, "
            "but the photos do not carry them until you write them."
        )
        write = box.addButton("Write…", QMessageBox.ButtonRole.AcceptRole)
        quit_ = box.addButton("Quit Without Writing", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(write)
        box.exec()
        clicked = box.clickedButton()
        return "write" if clicked is write else "quit" if clicked is quit_ else "cancel"

    def number(self, title: str, text: str, value: int, maximum: int, step: int) -> int | None:
        """A whole number in 0..``maximum`` the user typed, or None when they cancelled."""
        dlg = QInputDialog(self._parent)
        dlg.setWindowTitle(title)
        dlg.setLabelText(text)
        dlg.setInputMode(QInputDialog.InputMode.IntInput)
        dlg.setIntRange(0, maximum)
        dlg.setIntStep(step)
        dlg.setIntValue(value)
        return dlg.intValue() if dlg.exec() == QDialog.DialogCode.Accepted else None

    def error(self, title: str, text: str, details: str = "") -> None:
        """An error with its technical details folded away."""
        log.error("%s: %s", title, text)
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setDetailedText(details)
        box.exec()

    def info(self, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setDetailedText(details)
        box.exec()

    def markdown(self, title: str, markdown: str) -> None:
        """A scrollable document (the About box and model card)."""
        dlg = QDialog(self._parent)
        dlg.setWindowTitle(title)
        dlg.resize(620, 560)
        view = QTextBrowser(dlg)
        view.setOpenExternalLinks(False)
        view.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, Qt.Orientation.Horizontal)
        buttons.rejected.connect(dlg.reject)
        buttons.accepted.connect(dlg.accept)
        layout = QVBoxLayout(dlg)
        layout.addWidget(view)
        layout.addWidget(buttons)
        dlg.exec()
