"""A bundle described for people: the few figures its card leads with.

``bundle info`` and the desktop app's About box show these instead of the
manifest's raw JSON (``bundle info --json`` still prints all of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geoscope_core.runtime.bundle import Bundle

#: distance thresholds reported, km
SUMMARY_KM = ("25", "200", "750", "2500")
#: a card beside the bundle folder (``models/MODEL_CARD.md``) or inside it
CARD_NAMES = ("MODEL_CARD.md", "model_card.md", "README.md")


def accuracy_line(metrics: Mapping[str, Any]) -> str:
    """'within 25 km 33% · 200 km 65% · … · median 104 km · country 70% · GeoScore 3,560
    (640 photos)' from one eval result (``acc_km`` fractions, km, 0-5000 points)."""
    acc = metrics.get("acc_km") or {}
    parts = []
    within = [f"{km} km {float(acc[km]):.0%}" for km in SUMMARY_KM if km in acc]
    if within:
        parts.append("within " + " · ".join(within))
    if metrics.get("median_km") is not None:
        parts.append(f"median {float(metrics['median_km']):,.0f} km")
    if metrics.get("country_acc") is not None:
        parts.append(f"country {float(metrics['country_acc']):.0%}")
    if metrics.get("geoscore") is not None:
        parts.append(f"GeoScore {float(metrics['geoscore']):,.0f}")
    line = " · ".join(parts)
    if metrics.get("n"):
        line += f" ({int(metrics['n']):,} photos)"
    return line


def bundle_summary(bundle: Bundle) -> list[tuple[str, str]]:
    """(label, text) rows describing ``bundle``: kind, input, levels, decoding, size on
    disk, quantization, accuracy measured at export and the error radius's basis."""
    m = bundle.manifest
    rows = [
        ("kind", m.kind.value),
        ("input", f"{m.input.size} px, {m.input.resize.value}"),
        (
            "levels",
            ", ".join(f"{lv.name} ({len(bundle.labels(lv.name)):,})" for lv in m.levels),
        ),
    ]
    if m.description:
        rows.append(("about", m.description))
    q = m.quantization or {}
    if q:
        rows.append(("quantization", str(q.get("method") or q.get("weights") or "yes")))
    val = (m.metrics or {}).get("val") or {}
    world = (val.get("by_scope") or {}).get("world") or {}
    measured = (
        world.get("int8") or world.get("fp32") or val.get("int8") or val.get("fp32")
        or (m.metrics or {}).get("final")
    )  # fmt: skip
    if world:
        val = {**val, "source": f"{val.get('source', 'val')}, scope world"}
    if isinstance(measured, Mapping):
        rows.append(("accuracy", accuracy_line(measured) + f" — {val.get('source', 'at export')}"))
    em = (m.metrics or {}).get("error_model")
    if isinstance(em, Mapping) and em.get("quantile"):
        rows.append(
            (
                "error radius",
                f"{float(em['quantile']):.0%} of {int(em.get('photos', 0)):,} photos "
                f"({em.get('source', 'val')}) lie within it",
            )
        )
    return rows


def model_card(bundle: Bundle) -> str:
    """The model card (markdown) inside the bundle or beside it naming it; '' when none."""
    folder = Path(bundle.path)
    files = {rel.lower(): rel for rel in bundle.manifest.files}
    for name in CARD_NAMES:
        if name.lower() in files:
            try:
                return bundle.file(files[name.lower()]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    if folder.is_dir():
        beside = folder.parent / "MODEL_CARD.md"
        try:
            text = beside.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""
        first = text.splitlines()[0] if text else ""
        if f"`{bundle.manifest.name}`" in first or bundle.manifest.name in first.split():
            return text
    return ""
