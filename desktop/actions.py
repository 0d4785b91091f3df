"""The window's actions, menus and toolbar: texts, shortcuts and icons, no behaviour.

``WindowActions`` creates every ``QAction``; the main window connects their
``triggered`` signals to its controllers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

if TYPE_CHECKING:
    from geoscope_desktop.settings_store import AppSettings

Shortcut = QKeySequence | QKeySequence.StandardKey | str | None

PROVIDER_TEXTS = (("auto", "&Automatic"), ("cpu", "&CPU"), ("cuda", "&GPU (CUDA)"))


class WindowActions:
    """Every action of ``window``; ``provider_actions`` maps auto|cpu|cuda to its item.

    ``cuda()`` says whether ONNX Runtime has a CUDA provider here: asked when the Run On
    menu first opens (importing ONNX Runtime is no work for the window's first show).
    """

    def __init__(self, window: QMainWindow, provider: str, cuda: Callable[[], bool]) -> None:
        self._window = window
        self._cuda: Callable[[], bool] | None = cuda
        sp = QStyle.StandardPixmap
        Std = QKeySequence.StandardKey
        a = self._make
        self.open = a("&Open Folder…", Std.Open, "Open a folder of photos", sp.SP_DirOpenIcon)
        self.scan = a("&Scan", "F5", "Estimate where the photos were taken", sp.SP_MediaPlay)
        self.cancel = a("&Cancel Scan", "Esc", "Stop the running scan", sp.SP_MediaStop)
        self.add_tracks = a(
            "Add &Track Logs…", None, "Place photos by your GPS track logs (GPX, KML, …)"
        )
        self.clocks = a("Camera &Clocks…", None, "Correct a camera's clock: its photos move")
        self.time_window = a(
            "Time-Neighbour &Window…",
            None,
            "How close in time your GPS-tagged photos must be to place a photo by them",
        )
        self.accept = a("&Accept", "A", "Accept the selected estimates", sp.SP_DialogApplyButton)
        self.reject = a("&Reject", "R", "Reject the selected estimates", sp.SP_DialogDiscardButton)
        self.view_photo = a("&View Photo", "Space", "Open the photo bigger (or double-click it)")
        self.accept_confident = a(
            "Accept All &Confident",
            "Ctrl+Shift+A",
            "Accept every estimate at or above the confidence threshold",
        )
        self.write = a(
            "&Write Locations…",
            Std.Save,
            "Write the accepted locations into the photos",
            sp.SP_DialogSaveButton,
        )
        self.fill_names = a(
            "Fill Place &Names from GPS…",
            None,
            "Write city, region and country into the selected photos that carry GPS "
            "(from their own point; their GPS stays as it is)",
        )
        self.undo = a(
            "&Undo Last Write",
            Std.Undo,
            "Restore the photos the last write changed",
            sp.SP_ArrowBack,
        )
        self.export_csv = a("Export &CSV…", "Ctrl+E", "Save the results as CSV")
        self.export_geojson = a("Export &GeoJSON…", "Ctrl+Shift+E", "Save the results as GeoJSON")
        self.quit = a("&Quit", Std.Quit)
        self.find = a("&Find…", Std.Find)
        self.reset_map = a("Show &Whole World", "Ctrl+0")
        self.follow_selection = a(
            "F&ollow Selection",
            "Ctrl+L",
            "Centre the map on each photo selected (off: the map stays where you put it)",
        )
        self.follow_selection.setCheckable(True)
        self.filmstrip = a("&Filmstrip", "F6", "Bigger thumbnails of the photos around this one")
        self.filmstrip.setCheckable(True)
        self.open_tiles = a(
            "Open Offline &Map Tiles…",
            None,
            "Draw your own MBTiles or PMTiles file for street level",
        )
        self.help = a("GeoScope &Help", "F1", "How to use GeoScope")
        self.about = a("&About GeoScope…", None, "Version, model and licences")
        self.default_model = a(
            "Use the &Default Model", None, "Use the model that ships with GeoScope"
        )
        self.choose_model = a("Open Model &Bundle…", "Ctrl+M", "Use a model bundle folder")
        self.provider_group = QActionGroup(window)
        self.provider_actions: dict[str, QAction] = {}
        for key, text in PROVIDER_TEXTS:
            act = QAction(text, window, checkable=True)
            act.setData(key)
            act.setChecked(key == provider)
            self.provider_group.addAction(act)
            self.provider_actions[key] = act

    def check_cuda(self) -> None:
        """Enable the GPU choice when ONNX Runtime has a CUDA provider here (asked once)."""
        if self._cuda is None:
            return
        cuda, self._cuda = self._cuda(), None
        self.provider_actions["cuda"].setEnabled(cuda)
        if not cuda:
            self.provider_actions["cuda"].setToolTip("ONNX Runtime has no CUDA provider here")

    def _make(
        self,
        text: str,
        shortcut: Shortcut = None,
        tip: str = "",
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        act = QAction(text, self._window)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(f"{tip} ({act.shortcut().toString()})" if shortcut else tip)
        if icon is not None:
            act.setIcon(self._window.style().standardIcon(icon))
        self._window.addAction(act)
        return act

    def connect(self, slots: dict[QAction, Callable[[], object]]) -> None:
        for act, slot in slots.items():
            act.triggered.connect(lambda _=False, s=slot: s())

    def toolbar(self) -> QToolBar:
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setIconSize(QSize(18, 18))
        for act in (self.open, self.scan, self.cancel):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.accept, self.reject, self.write, self.undo):
            tb.addAction(act)
        return tb

    def build_menus(self) -> QMenu:
        """Fill the window's menu bar; returns the (empty) Open Recent menu."""
        mb = self._window.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.open)
        recent = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        file_menu.addAction(self.export_csv)
        file_menu.addAction(self.export_geojson)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        review = mb.addMenu("&Review")
        for act in (self.accept, self.reject, self.accept_confident):
            review.addAction(act)
        review.addSeparator()
        review.addAction(self.view_photo)
        review.addSeparator()
        review.addAction(self.write)
        review.addAction(self.fill_names)
        review.addAction(self.undo)
        review.addSeparator()
        review.addAction(self.find)

        scan = mb.addMenu("&Scan")
        scan.addAction(self.scan)
        scan.addAction(self.cancel)
        scan.addSeparator()
        scan.addAction(self.add_tracks)
        scan.addAction(self.clocks)
        scan.addAction(self.time_window)

        model = mb.addMenu("&Model")
        model.addAction(self.default_model)
        model.addAction(self.choose_model)
        model.addSeparator()
        run_on = model.addMenu("Run &On")
        run_on.aboutToShow.connect(self.check_cuda)
        for act in self.provider_actions.values():
            run_on.addAction(act)

        view = mb.addMenu("&View")
        view.addAction(self.filmstrip)
        view.addSeparator()
        view.addAction(self.follow_selection)
        view.addAction(self.reset_map)
        view.addAction(self.open_tiles)

        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.help)
        help_menu.addAction(self.about)
        return recent

    def update(
        self,
        *,
        scanning: bool,
        busy: bool,
        has_photos: bool,
        selected: bool,
        accepted: int,
        can_undo: bool,
        fillable: int = 0,
    ) -> None:
        """Enable what can be done now: ``busy`` while a write or undo runs,
        ``accepted`` photos wait to be written, ``can_undo`` when a journal is kept,
        ``fillable`` selected photos carry GPS whose place names can be written."""
        self.open.setEnabled(not scanning)
        self.scan.setEnabled(has_photos and not scanning and not busy)
        self.cancel.setEnabled(scanning)
        self.accept.setEnabled(selected)
        self.reject.setEnabled(selected)
        self.view_photo.setEnabled(has_photos)
        self.accept_confident.setEnabled(has_photos)
        self.write.setEnabled(bool(accepted) and not scanning and not busy)
        self.undo.setEnabled(can_undo and not scanning and not busy)
        self.fill_names.setEnabled(bool(fillable) and not scanning and not busy)
        self.export_csv.setEnabled(has_photos)
        self.export_geojson.setEnabled(has_photos)
        self.default_model.setEnabled(not scanning)
        self.choose_model.setEnabled(not scanning)
        self.provider_group.setEnabled(not scanning)
        self.write.setText(f"&Write {accepted} Location{'s' if accepted != 1 else ''}…")


class RecentMenu:
    """File ▸ Open Recent over ``settings``' recent folders; choosing one calls ``open_folder``."""

    def __init__(
        self, menu: QMenu, settings: AppSettings, open_folder: Callable[[Path], object]
    ) -> None:
        self.menu = menu
        self._settings = settings
        self._open = open_folder
        self.rebuild()

    def actions(self) -> list[QAction]:
        return self.menu.actions()

    def add(self, folder: Path) -> None:
        self._settings.add_recent_folder(folder)
        self.rebuild()

    def rebuild(self) -> None:
        self.menu.clear()
        folders = self._settings.recent_folders()
        for i, folder in enumerate(folders):
            act = self.menu.addAction(f"&{i + 1} {folder}")
            act.triggered.connect(lambda _=False, f=folder: self._open(f))
        if folders:
            self.menu.addSeparator()
            self.menu.addAction("Clear List").triggered.connect(self._clear)
        self.menu.setEnabled(bool(folders))

    def _clear(self) -> None:
        self._settings.clear_recent_folders()
        self.rebuild()


class FolderDrop(QObject):
    """Takes the window's drag-and-drop events: track logs dropped emit
    ``tracks_dropped(paths)``; else a folder (or a file of one) emits ``dropped(folder)``."""

    dropped = Signal(Path)
    tracks_dropped = Signal(list)

    def enter(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if dropped_tracks(urls) or dropped_folder(urls) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        tracks = dropped_tracks(urls)
        folder = dropped_folder(urls)
        if tracks:
            event.acceptProposedAction()
            self.tracks_dropped.emit(tracks)
        elif folder is not None:
            event.acceptProposedAction()
            self.dropped.emit(folder)


def dropped_tracks(urls: Sequence[QUrl]) -> list[Path]:
    """The track log files among dropped ``urls``, by their extension."""
    from geoscope_core.evidence.tracks import TRACK_SUFFIXES

    files = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
    return [p for p in files if p.suffix.lower() in TRACK_SUFFIXES and p.is_file()]


def dropped_folder(urls: Sequence[QUrl]) -> Path | None:
    """The folder a drop of ``urls`` means: a dropped folder, or a dropped file's."""
    for url in urls:
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.is_dir():
            return path
        if path.is_file():
            return path.parent
    return None
