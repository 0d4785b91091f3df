"""The Camera Clocks panel: one clock offset per camera of the scanned photos.

A camera whose clock was off (a wrong time zone, a clock never set) places its photos
at the wrong point of the track. The offset (seconds added to the camera's time to
get true time, as ExifTool's ``-geosync`` and ``geoscope scan --time-offset``) moves
them along it as it is changed.

Above the cameras, the time zone their clocks were set to, for photos that do not record
one (no OffsetTimeOriginal), as ``geoscope scan --tz``: automatic (the zone where each
photo was), the zones where the track and the GPS photos are, a fixed UTC offset, or any
IANA zone (typed, it completes).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from geoscope_core.errors import ConfigError
from geoscope_core.evidence.phototime import utc_offset_text
from geoscope_core.words import count
from geoscope_desktop.controllers.tracks import CameraClock, ZoneSuggestion

#: the largest offset the panel takes (s): a day either way covers any time zone error
MAX_OFFSET_S = 86_400
#: where an offset came from, as the panel says it
ORIGIN_TEXT = {
    "estimated": "estimated from your GPS photos",
    "--time-offset": "given with --time-offset",
    "set by you": "set by you",
    "none": "",
}


#: the fixed offsets clocks are set to (minutes east of UTC): every whole hour from
#: UTC-12:00 to UTC+14:00, and the half and three-quarter hours zones keep
_HALF_HOURS_MIN = (-570, -210, 210, 270, 330, 345, 390, 525, 570, 630, 765, 825)
FIXED_OFFSETS_MIN = tuple(sorted({60 * h for h in range(-12, 15)} | set(_HALF_HOURS_MIN)))
#: the regions of the canonical IANA names (no Etc/GMT+8, whose sign reads backwards,
#: and no legacy aliases: the fixed offsets stand for those)
IANA_REGIONS = (
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
    "Europe", "Indian", "Pacific",
)  # fmt: skip
AUTOMATIC = "Automatic"


def fixed_zone(minutes: int) -> tuple[str, str]:
    """A fixed offset as ``--tz`` takes it and as people read it: ("-08:00", "UTC−08:00")."""
    zone = utc_offset_text(minutes)
    return zone, "UTC" + zone.replace("-", "−")


def offset_text(seconds: int) -> str:
    """A clock offset as people write it: '+1:30:00', '-0:00:05' (±h:mm:ss), as the
    evidence's own ``format_offset`` writes it (whole seconds: the box's unit)."""
    from geoscope_core.evidence.offsets import format_offset  # not at app start

    return format_offset(int(seconds))


def _parse(text: str) -> float:
    """Seconds of '+1:30:00', '-90' (as ``--time-offset``; raises ConfigError)."""
    from geoscope_core.evidence.phototime import parse_time_offset  # not at app start

    return parse_time_offset(text).seconds


class OffsetBox(QSpinBox):
    """A clock offset in seconds, shown and typed as ±h:mm:ss (also '+90', '-1:30', as
    ``--time-offset`` takes them)."""

    def textFromValue(self, value: int) -> str:
        return offset_text(value)

    def valueFromText(self, text: str) -> int:
        return round(_parse(text.strip()))

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        body = text.strip()
        if body in ("", "+", "-") or body.endswith(":"):
            return QValidator.State.Intermediate, text, pos
        try:
            value = _parse(body if body[0] in "+-" else "+" + body)
        except ConfigError:
            return QValidator.State.Invalid, text, pos
        ok = abs(value) <= MAX_OFFSET_S
        return (QValidator.State.Acceptable if ok else QValidator.State.Invalid), text, pos


def _offset_suffix(z: ZoneSuggestion) -> str:
    """ ", UTC−07:00" (the zone's offset on the photos' day), "" when it is not known."""
    return "" if z.utc_offset_min is None else f", {fixed_zone(z.utc_offset_min)[1]}"


class ZoneBox(QComboBox):
    """The zone of camera clocks: ``zone()`` is "" for automatic, else an IANA name or a
    fixed "+-HH:MM", as ``--tz`` takes them. The IANA names (600 of them) are listed the
    first time the box is shown or set, never at the app's start."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(14)  # the panel stays narrow
        self.setMaxVisibleItems(20)
        completer = QCompleter(self.model(), self)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)  # "rome" finds Europe/Rome
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        edit = self.lineEdit()
        if edit is not None:  # text that names no zone gives way to the zone in use
            edit.editingFinished.connect(lambda: QTimer.singleShot(0, self, self._show_current))
        self.addItem(AUTOMATIC, "")
        self._suggested = 0
        self._listed = False
        #: the zones offered first (``set_suggestions``)
        self.suggestions: list[ZoneSuggestion] = []

    def note(self) -> str:
        """What the choice does, in words, for the line under the box."""
        zone = self.zone()
        if zone:
            return f"Photos that record no time zone of their own: {self.currentText()}"
        where = ""
        if self.suggestions:
            z = self.suggestions[0]
            where = f" (here {z.zone}{_offset_suffix(z)})"
        return f"Photos that record no time zone of their own: the zone where each was{where}"

    def zone(self) -> str:
        return str(self.currentData() or "")

    def set_zone(self, zone: str) -> None:
        """Show ``zone`` ("" automatic) as the choice, without emitting ``activated``."""
        i = self.findData(zone)
        if i < 0:
            self._list_all()
            i = self.findData(zone)
        if i < 0:  # a zone given on the command line in another spelling
            self.addItem(zone, zone)
            i = self.count() - 1
        self.setCurrentIndex(i)
        edit = self.lineEdit()
        if edit is not None:
            edit.setCursorPosition(0)  # the name's start shows in a narrow box

    def set_suggestions(self, zones: Sequence[ZoneSuggestion]) -> None:
        """Offer these zones first, under "Automatic": "America/Los_Angeles, UTC−07:00 ·
        your track" (the offset on the photos' day)."""
        current = self.zone()
        for _ in range(self._suggested):
            self.removeItem(1)
        for k, z in enumerate(zones):
            self.insertItem(1 + k, f"{z.zone}{_offset_suffix(z)} · {z.where}", z.zone)
        self._suggested = len(zones)
        self.suggestions = list(zones)
        self.set_zone(current)

    def _show_current(self) -> None:
        shown = self.itemText(self.currentIndex())
        if self.currentText() != shown:
            self.setEditText(shown)

    def showPopup(self) -> None:
        self._list_all()
        self.view().setMinimumWidth(max(self.width(), 300))  # whole names, a narrow box
        super().showPopup()

    def showEvent(self, event: QShowEvent) -> None:
        self._list_all()
        super().showEvent(event)

    def _list_all(self) -> None:
        if self._listed:
            return
        from zoneinfo import available_timezones  # 0.1 s: not at the app's start

        self._listed = True
        self.blockSignals(True)
        self.insertSeparator(self.count())
        for minutes in FIXED_OFFSETS_MIN:
            zone, text = fixed_zone(minutes)
            self.addItem(text, zone)
        self.insertSeparator(self.count())
        for name in sorted(available_timezones()):
            if name.split("/", 1)[0] in IANA_REGIONS:
                self.addItem(name, name)
        self.blockSignals(False)


class ClockPanel(QWidget):
    """The time zone of the camera clocks and their offsets (±h:mm:ss, in seconds), one
    per camera; emits ``offset_changed(camera, seconds)`` as the user changes one (not
    when ``set_cameras`` fills them) and ``zone_changed(zone)`` as the user picks a zone
    ("" automatic, else as ``--tz`` takes it)."""

    offset_changed = Signal(str, float)
    zone_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel("Scan photos with a track log (Scan ▸ Add Track Logs) to set clocks.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #5c6670;")
        self.zone_box = ZoneBox()
        self.zone_box.setToolTip(
            "The time zone the cameras' clocks were set to, for photos that do not record "
            "one (OffsetTimeOriginal), as geoscope scan --tz. Automatic: the zone where each "
            "photo was (its GPS, or where the track was then). Type to find a zone."
        )
        self.zone_box.activated.connect(lambda _i: self.zone_changed.emit(self.zone_box.zone()))
        zone_label = QLabel("Clocks set to time zone:")
        self.zone_note = QLabel("")
        self.zone_note.setWordWrap(True)
        self.zone_note.setStyleSheet("color: #5c6670;")
        self.zone_box.currentIndexChanged.connect(
            lambda _i: self.zone_note.setText(self.zone_box.note())
        )
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(zone_label)
        layout.addWidget(self.zone_box)
        layout.addWidget(self.zone_note)
        layout.addWidget(self.hint)
        layout.addLayout(self.form)
        layout.addStretch(1)
        self.boxes: dict[str, QSpinBox] = {}

    def set_cameras(self, cameras: Sequence[CameraClock]) -> None:
        """Show these cameras (their current offsets); the panel's own edits are kept."""
        while self.form.rowCount():
            self.form.removeRow(0)
        self.boxes = {}
        for cam in cameras:
            box = OffsetBox()
            box.setRange(-MAX_OFFSET_S, MAX_OFFSET_S)
            box.setSingleStep(5)
            box.setAccelerated(True)
            box.setKeyboardTracking(False)
            box.setValue(round(cam.seconds))
            box.setToolTip(self._tip(cam))
            box.valueChanged.connect(lambda v, c=cam.camera: self._changed(c, v))
            name = cam.camera or "unknown camera"
            label = QLabel(f"{name} ({count(cam.photos, 'photo')})")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)  # a long camera name wraps: the panel stays narrow
            label.setMinimumWidth(80)
            self.form.addRow(label, box)
            self.boxes[cam.camera] = box
        self.hint.setVisible(not cameras)

    @staticmethod
    def _tip(cam: CameraClock) -> str:
        from geoscope_core.evidence.offsets import format_offset

        origin = ORIGIN_TEXT.get(cam.origin, cam.origin)
        if origin and cam.origin != "none":
            origin = f"{format_offset(cam.seconds)} {origin}"
        return (
            "Time (±h:mm:ss) added to this camera's clock to get the true time "
            "(its photos move along the track as you change it)"
            + (f"; {origin}" if origin else "")
            + (f" ({cam.note})" if cam.note else "")
        )

    def _changed(self, camera: str, value: int) -> None:
        box = self.boxes[camera]
        box.setToolTip(f"{offset_text(value)} (h:mm:ss) · set by you")
        self.offset_changed.emit(camera, float(value))
