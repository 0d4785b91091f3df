"""The detail pane: the selected photo, its estimate and the top-5 alternatives."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from geoscope_core.geo.place import MAX_RADIUS_KM, PlaceNames
from geoscope_core.prediction import Candidate, Source
from geoscope_desktop.items import (
    REVIEWABLE,
    PhotoItem,
    PhotoStatus,
    PlaceEdit,
    estimate_text,
    format_km,
    format_latlon,
    is_unsure,
    place_text,
)
from geoscope_desktop.photo_model import STATUS_COLORS

PREVIEW_SIZE = 320
#: where a location came from, as the pane says it
SOURCE_TEXT = {
    Source.MODEL: "the model",
    Source.NEIGHBORS: "your nearby photos",
    Source.EXIF: "GPS",
    Source.TRACK: "your track log",
    Source.USER: "you (placed by hand)",
}
TOP_K = 5


class DetailPane(QWidget):
    """Shows one ``PhotoItem``. Emits ``alternative_chosen(Candidate)``,
    ``names_edited(PlaceEdit)``, ``accept_clicked``, ``reject_clicked`` and
    ``revert_clicked``."""

    alternative_chosen = Signal(object)
    names_edited = Signal(object)
    accept_clicked = Signal()
    reject_clicked = Signal()
    revert_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._item: PhotoItem | None = None
        self._image = QImage()

        self.preview = QLabel("No photo selected")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(220, 165)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setStyleSheet(
            "QLabel { background: #20252b; color: #9aa3ad; border-radius: 6px; }"
        )

        self.title = QLabel("")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setStyleSheet("color: #5c6670;")
        self.place = QLabel("")
        f = QFont(self.place.font())
        f.setPointSizeF(f.pointSizeF() * 1.35)
        f.setBold(True)
        self.place.setFont(f)
        self.place.setWordWrap(True)
        self.facts = QLabel("")
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.alternatives = QListWidget()
        self.alternatives.setToolTip("Double-click (or Enter) to move the estimate there")
        self.alternatives.setMinimumHeight(60)
        self.alternatives.itemActivated.connect(self._on_activated)
        self.alternatives.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.alternatives.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.alternatives.setUniformItemSizes(True)

        self.sublocation_edit = QLineEdit()
        self.city_edit = QLineEdit()
        self.region_edit = QLineEdit()
        self.country_edit = QLineEdit()
        self.name_edits = (self.sublocation_edit, self.city_edit, self.region_edit,
                           self.country_edit)  # fmt: skip
        for edit, what in (
            (self.sublocation_edit, "Sublocation"),
            (self.city_edit, "City"),
            (self.region_edit, "Region"),
            (self.country_edit, "Country"),
        ):
            edit.setPlaceholderText(what)
            edit.setToolTip(f"{what} written with the location (Enter applies to the selection)")
            edit.returnPressed.connect(self._on_names)
        self.names_btn = QPushButton("Set Names")
        self.names_btn.setToolTip("Write these place names with the selected photos' location")
        self.names_btn.clicked.connect(self._on_names)

        self.accept_btn = QPushButton("Accept")
        self.accept_btn.setToolTip("Accept this estimate (A)")
        self.reject_btn = QPushButton("Reject")
        self.reject_btn.setToolTip("Reject this estimate (R)")
        self.revert_btn = QPushButton("Revert")
        self.revert_btn.setToolTip("Back to the model's estimate")
        self.accept_btn.clicked.connect(self.accept_clicked)
        self.reject_btn.clicked.connect(self.reject_clicked)
        self.revert_btn.clicked.connect(self.revert_clicked)

        info = QVBoxLayout()
        info.setSpacing(4)
        info.addWidget(self.title)
        info.addWidget(self.place)
        info.addWidget(self.facts)
        alt_label = QLabel("Alternatives")
        alt_label.setStyleSheet("color: #5c6670; margin-top: 4px;")
        info.addWidget(alt_label)
        info.addWidget(self.alternatives, 1)
        names = QGridLayout()
        names.setHorizontalSpacing(4)
        for k, edit in enumerate(self.name_edits):
            names.addWidget(edit, k // 2, k % 2)
        names.addWidget(self.names_btn, 0, 2, 2, 1)
        info.addLayout(names)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_btn)
        buttons.addWidget(self.reject_btn)
        buttons.addWidget(self.revert_btn)
        buttons.addStretch(1)
        info.addLayout(buttons)

        info_frame = QFrame()
        info_frame.setLayout(info)
        info_frame.setMinimumWidth(260)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.preview, 5)
        layout.addWidget(info_frame, 4)
        self.show_item(None)

    @property
    def item(self) -> PhotoItem | None:
        return self._item

    def show_item(self, item: PhotoItem | None) -> None:
        same_photo = item is not None and self._item is not None and item.path == self._item.path
        self._item = item
        if not same_photo:
            self._image = QImage()
            self._render_preview()
        self.alternatives.clear()
        pred = item.prediction if item is not None else None
        # the names that would be written: no finer than the estimate's radius
        names = PlaceNames.of_estimate(pred) if pred else PlaceNames()
        self.sublocation_edit.setText(pred.sublocation if pred and names.city else "")
        self.city_edit.setText(names.city)
        self.region_edit.setText(names.admin1)
        self.country_edit.setText(names.country)
        editable = item is not None and (item.status in REVIEWABLE or item.names_fillable)
        editable = editable and pred is not None
        for w in (*self.name_edits, self.names_btn):
            w.setEnabled(editable)
        if pred is not None:  # a name finer than the radius would not be written
            fine = {
                self.sublocation_edit: "city",
                self.city_edit: "city",
                self.region_edit: "admin1",
            }
            for edit, name in fine.items():
                limit = MAX_RADIUS_KM[name]
                too_wide = pred.radius_km > limit
                edit.setEnabled(editable and not too_wide)
                edit.setToolTip(
                    f"±{format_km(pred.radius_km)} is wider than {format_km(limit)}: "
                    "place the photo on the map to name it this finely"
                    if too_wide
                    else ""
                )
        if item is None:
            self.title.setText("")
            self.place.setText("No photo selected")
            self.facts.setText("Open a folder and scan it to see estimates here.")
            for b in (self.accept_btn, self.reject_btn, self.revert_btn):
                b.setEnabled(False)
            return
        self.title.setText(item.name)
        pred = item.prediction
        color = STATUS_COLORS[item.status]
        status = f"<span style='color:{color}; font-weight:600'>{item.status.value}</span>"
        if item.status is PhotoStatus.ERROR:
            self.place.setText("Could not be read")
            self.facts.setText(f"{status}<br>{_escape(item.message)}")
        elif pred is None:
            self.place.setText("Not scanned yet")
            gps = f"GPS in file: {format_latlon(*item.gps)}<br>" if item.gps else ""
            note = f"<br>{_escape(item.message)}" if item.message else ""
            self.facts.setText(f"{gps}{status}{note}")
        else:
            own_gps = item.status is PhotoStatus.HAS_GPS
            radius = 0.0 if own_gps else pred.radius_km
            where = place_text(pred) or format_latlon(pred.lat, pred.lon, radius)
            unsure = not own_gps and is_unsure(pred)
            self.place.setText(f"Unsure — {where}?" if unsure else where)
            lines = [format_latlon(pred.lat, pred.lon, radius)]
            if own_gps:
                lines.append("location from the photo's own GPS")
            else:
                src = SOURCE_TEXT.get(pred.source, pred.source.value)
                lines.append(f"{estimate_text(pred)} · from {src}")
            if item.result is not None and item.result.reason and not item.placed:
                lines.append(f"why: {_escape(item.result.reason)}")
            if item.corrected:
                lines.append("<i>moved by you</i>")
            if item.message:
                lines.append(_escape(item.message))
            lines.append(status)
            self.facts.setText("<br>".join(lines))
            for cand in pred.top_k[:TOP_K]:
                c_radius = pred.radius_km if cand.radius_km is None else cand.radius_km
                name = place_text(cand) or format_latlon(cand.lat, cand.lon, c_radius)
                within = "" if cand.radius_km is None else f" ±{format_km(cand.radius_km)}"
                row = QListWidgetItem(f"{cand.confidence:>4.0%}{within}   {name}")
                row.setData(Qt.ItemDataRole.UserRole, cand)
                row.setToolTip(format_latlon(cand.lat, cand.lon, c_radius))
                self.alternatives.addItem(row)
        reviewable = item.status in (
            PhotoStatus.ESTIMATED,
            PhotoStatus.ACCEPTED,
            PhotoStatus.REJECTED,
        )
        self.accept_btn.setEnabled(reviewable and item.status is not PhotoStatus.ACCEPTED)
        self.reject_btn.setEnabled(reviewable and item.status is not PhotoStatus.REJECTED)
        self.revert_btn.setEnabled(reviewable and item.corrected)
        self.alternatives.setEnabled(reviewable)

    def set_preview(self, image: QImage) -> None:
        self._image = image
        self._render_preview()

    def _render_preview(self) -> None:
        if self._image.isNull():
            self.preview.setPixmap(QPixmap())
            self.preview.setText("No preview" if self._item is not None else "No photo selected")
            return
        pix = QPixmap.fromImage(self._image)
        self.preview.setPixmap(
            pix.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self._render_preview()

    def _on_names(self) -> None:
        self.names_edited.emit(PlaceEdit(*(e.text() for e in self.name_edits)))

    def set_names(self, city: str, region: str, country: str, sublocation: str = "") -> None:
        """Type these names and apply them, as the user does."""
        for edit, text in zip(self.name_edits, (sublocation, city, region, country), strict=True):
            edit.setText(text)
        self._on_names()

    def choose_alternative(self, row: int) -> None:
        """Move the estimate to alternative ``row`` (0-based), as a double-click does."""
        self._on_activated(self.alternatives.item(row))

    def _on_activated(self, row: QListWidgetItem | None) -> None:
        if row is None:
            return
        cand = row.data(Qt.ItemDataRole.UserRole)
        if isinstance(cand, Candidate):
            self.alternative_chosen.emit(cand)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
