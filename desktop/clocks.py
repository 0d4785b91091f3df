"""The Camera Clocks panel: one clock offset per camera of the scanned photos.

A camera whose clock was off (a wrong time zone, a clock never set) places its photos
at the wrong point of the track. The offset (seconds added to the camera's time to
get true time, as ExifTool's ``-geosync`` and ``geoscope scan --time-offset``) moves
them along it as it is changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from geoscope_core.errors import ConfigError
from geoscope_core.words import count
from geoscope_desktop.controllers.tracks import CameraClock

#: the largest offset the panel takes (s): a day either way covers any time zone error
MAX_OFFSET_S = 86_400
#: where an offset came from, as the panel says it
ORIGIN_TEXT = {
    "estimated": "estimated from your GPS photos",
    "--time-offset": "given with --time-offset",
    "set by you": "set by you",
    "none": "",
}


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


class ClockPanel(QWidget):
    """Clock offsets (±h:mm:ss, in seconds), one per camera; emits ``offset_changed(camera,
    seconds)`` as the user changes one (not when ``set_cameras`` fills them)."""

    offset_changed = Signal(str, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel("Scan photos with a track log (Scan ▸ Add Track Logs) to set clocks.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #5c6670;")
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
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
