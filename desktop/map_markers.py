"""Photo markers on the map, clustered by screen distance, and the alternatives of the
selected photo. A cluster shows how many photos it holds; clicking it selects them.

Clustering is a grid over the view in scene degrees (``CLUSTER_PX`` screen pixels
per cell), redone whenever the zoom changes; photos at one spot always cluster.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
    QWidget,
)

from geoscope_core.prediction import Candidate
from geoscope_desktop.items import PhotoStatus
from geoscope_desktop.photo_model import STATUS_COLORS

CLUSTER_PX = 26.0
ALTERNATIVE = QColor("#7b1fa2")
TRACK = QColor("#1e88e5")


@dataclass(frozen=True)
class MapPhoto:
    """A photo's place on the map (degrees), its review status and whether the user's own
    evidence (a track, their GPS photos, their hand) placed it rather than the model."""

    lat: float
    lon: float
    status: PhotoStatus
    path: Path
    by_evidence: bool = False


class Dot(QGraphicsEllipseItem):
    """A fixed-size dot (ignores zoom) at (lat, lon) degrees."""

    def __init__(self, lat: float, lon: float, color: QColor, size: float) -> None:
        super().__init__(-size / 2, -size / 2, size, size)
        self.setPos(lon, -lat)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setBrush(QBrush(color))
        self.setPen(QPen(QColor("white"), 1.2))


class Cluster(Dot):
    """One dot for ``photos``; a number on it when there is more than one."""

    def __init__(self, photos: Sequence[MapPhoto]) -> None:
        self.photos = tuple(photos)
        n = len(self.photos)
        lat = sum(p.lat for p in self.photos) / n
        lon = sum(p.lon for p in self.photos) / n
        statuses = {p.status for p in self.photos}
        color = QColor(STATUS_COLORS[next(iter(statuses))] if len(statuses) == 1 else "#455a64")
        size = 7.0 if n == 1 else min(34.0, 14.0 + 4.0 * math.log2(n))
        super().__init__(lat, lon, color, size)
        #: every photo here placed by the user's evidence: drawn square, not round
        self.by_evidence = all(p.by_evidence for p in self.photos)
        how = " (placed by your track or photos)" if self.by_evidence else ""
        self.setToolTip(
            (self.photos[0].path.name if n == 1 else f"{n} photos — click to select them") + how
        )

    @property
    def paths(self) -> list[Path]:
        return [p.path for p in self.photos]

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self.by_evidence:
            painter.setPen(self.pen())
            painter.setBrush(self.brush())
            painter.drawRect(self.rect())
        else:
            super().paint(painter, option, widget)
        if len(self.photos) > 1:
            painter.setPen(QColor("white"))
            font = QFont(painter.font())
            font.setPointSizeF(7.5)
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, str(len(self.photos)))


class AlternativeDot(Dot):
    """An alternative place of the selected photo; a click chooses it."""

    def __init__(self, candidate: Candidate, rank: int) -> None:
        super().__init__(candidate.lat, candidate.lon, QColor(0, 0, 0, 0), 12.0)
        self.candidate = candidate
        self.setPen(QPen(ALTERNATIVE, 2.0))
        self.setToolTip(f"alternative {rank}: {candidate.city or candidate.country} — click")


def cluster(photos: Iterable[MapPhoto], cell_deg: float) -> list[list[MapPhoto]]:
    """Photos grouped by grid cells ``cell_deg`` degrees wide (at least one cell per spot)."""
    cells: dict[tuple[int, int], list[MapPhoto]] = defaultdict(list)
    size = max(cell_deg, 1e-9)
    for p in photos:
        cells[(math.floor(p.lon / size), math.floor(p.lat / size))].append(p)
    return list(cells.values())


class MarkerLayer:
    """The clusters and alternative dots in ``scene``."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self.photos: list[MapPhoto] = []
        self.clusters: list[Cluster] = []
        self.alternatives: list[AlternativeDot] = []
        self.tracks: list[QGraphicsPathItem] = []

    def set_photos(self, photos: Iterable[MapPhoto], cell_deg: float) -> None:
        self.photos = list(photos)
        self.recluster(cell_deg)

    def recluster(self, cell_deg: float) -> None:
        for c in self.clusters:
            self._scene.removeItem(c)
        self.clusters = []
        for group in cluster(self.photos, cell_deg):
            item = Cluster(group)
            item.setZValue(5)
            self._scene.addItem(item)
            self.clusters.append(item)

    def set_tracks(self, lines: Sequence[np.ndarray]) -> None:
        """Track logs as lines ([K, 2] lat, lon degrees)."""
        for item in self.tracks:
            self._scene.removeItem(item)
        pen = QPen(TRACK, 2.0)
        pen.setCosmetic(True)
        self.tracks = []
        for line in lines:
            path = QPainterPath()
            path.addPolygon(QPolygonF([QPointF(float(lon), -float(lat)) for lat, lon in line]))
            item = self._scene.addPath(path, pen)
            item.setZValue(4)
            self.tracks.append(item)

    def set_alternatives(self, candidates: Sequence[Candidate]) -> None:
        for a in self.alternatives:
            self._scene.removeItem(a)
        self.alternatives = []
        for rank, cand in enumerate(candidates, start=1):
            dot = AlternativeDot(cand, rank)
            dot.setZValue(9)
            self._scene.addItem(dot)
            self.alternatives.append(dot)


def cell_degrees(scale_px_per_deg: float) -> float:
    """Grid cell size in degrees for ``CLUSTER_PX`` pixels at this zoom."""
    return CLUSTER_PX / max(scale_px_per_deg, 1e-9)
