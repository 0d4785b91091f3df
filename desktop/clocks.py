"""The Camera Clocks panel: one clock offset per camera of the scanned photos.

A camera whose clock was off (a wrong time zone, a clock never set) places its photos
at the wrong point of the track. The offset (seconds added to the camera's time to
get true time, as ExifTool's ``-geosync`` and ``geoscope scan --time-offset``) moves
them along it as it is changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from geoscope_desktop.controllers.tracks import CameraClock
from geoscope_desktop.items import format_duration

#: the largest offset the panel takes (s): a day either way covers any time zone error
MAX_OFFSET_S = 86_400
#: where an offset came from, as the panel says it
ORIGIN_TEXT = {
    "estimated": "estimated from your GPS photos",
    "--time-offset": "given with --time-offset",
    "set by you": "set by you",
    "none": "",
}


class ClockPanel(QWidget):
    """Spin boxes of clock offsets (s), one per camera; emits ``offset_changed(camera,
    seconds)`` as the user changes one (not when ``set_cameras`` fills them)."""

    offset_changed = Signal(str, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = QLabel("Scan photos with a track log (Scan ▸ Add Track Logs) to set clocks.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #5c6670;")
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
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
            box = QSpinBox()
            box.setRange(-MAX_OFFSET_S, MAX_OFFSET_S)
            box.setSuffix(" s")
            box.setSingleStep(5)
            box.setAccelerated(True)
            box.setKeyboardTracking(False)
            box.setValue(round(cam.seconds))
            box.setToolTip(self._tip(cam))
            box.valueChanged.connect(lambda v, c=cam.camera: self._changed(c, v))
            name = cam.camera or "unknown camera"
            label = QLabel(f"{name} ({cam.photos:,} photo{'s' if cam.photos != 1 else ''})")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
            "Seconds added to this camera's clock to get the true time "
            "(its photos move along the track as you change it)"
            + (f"; {origin}" if origin else "")
            + (f" ({cam.note})" if cam.note else "")
        )

    def _changed(self, camera: str, value: int) -> None:
        box = self.boxes[camera]
        sign = "-" if value < 0 else "+"
        box.setToolTip(f"{sign}{format_duration(abs(value))} · set by you")
        self.offset_changed.emit(camera, float(value))
