"""The About box text: GeoScope's version, the model in use and its card."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from geoscope_core import __version__

if TYPE_CHECKING:
    from geoscope_core.runtime.bundle import Bundle
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_desktop.workers import ModelChoice

log = logging.getLogger(__name__)

#: bundle files taken as the model card, first found wins (case-insensitive)
CARD_NAMES = ("model_card.md", "modelcard.md", "card.md", "readme.md")


#: (keys, action) listed in the About box; the actions themselves are set in main_window.
SHORTCUTS = (
    ("Ctrl+O", "open a folder (or drop one on the window)"),
    ("F5", "scan"),
    ("Esc", "cancel the scan"),
    ("A / R", "accept / reject the selected estimates (double-click accepts)"),
    ("Ctrl+Shift+A", "accept every estimate above the confidence threshold"),
    ("Ctrl+S", "write the accepted locations"),
    ("Ctrl+Z", "undo the last write"),
    ("Ctrl+E / Ctrl+Shift+E", "export CSV / GeoJSON"),
    ("Ctrl+F", "filter by file name"),
    ("Ctrl+M", "open a model bundle"),
    ("Ctrl+0", "show the whole world on the map"),
    ("F1", "this box"),
)


def model_card(bundle: Bundle) -> str:
    """The bundle's own card (markdown) if it ships one, else ''."""
    files = {rel.lower(): rel for rel in bundle.manifest.files}
    for name in CARD_NAMES:
        if name in files:
            try:
                return bundle.file(files[name]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                log.warning("model card %s unreadable: %s", files[name], e)
    return ""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def about_markdown(choice: ModelChoice, predictor: Predictor | None = None) -> str:
    """Markdown for the About box. Reads the bundle's manifest when no predictor is loaded
    (raises BundleError when the chosen bundle is unusable)."""
    from geoscope_core.runtime.bundle import load_bundle

    bundle = predictor.bundle if predictor is not None else load_bundle(choice.model, verify=False)
    m = bundle.manifest
    lines = [
        f"# GeoScope {__version__}",
        "",
        "Offline photo geolocation: GeoScope estimates where photos were taken on this "
        "computer and writes the estimate into the photos only when you ask. Nothing is "
        "uploaded.",
        "",
        f"## Model: {m.name}",
        "",
        f"- Identifier: `{bundle.model_id}`",
        f"- Kind: {m.kind.value}, input {m.input.size} px ({m.input.resize.value})",
        f"- Levels: {', '.join(f'{lv.name} ({len(bundle.labels(lv.name)):,})' for lv in m.levels)}",
        f"- Runs on: {choice.provider}",
        f"- Location: `{bundle.path}`",
    ]
    if m.quantization:
        lines.append(f"- Quantization: {_fmt(m.quantization)}")
    if m.description:
        lines += ["", m.description]
    if m.metrics:
        lines += ["", "### Measured at export", "", "| metric | value |", "|---|---|"]
        for key, value in m.metrics.items():
            lines.append(f"| {key} | {_fmt(value)} |")
    if m.producer:
        lines += ["", "### Produced with", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in m.producer.items()]
    card = model_card(bundle)
    if card:
        lines += ["", "---", "", card]
    lines += [
        "",
        "### Keyboard",
        "",
        "| keys | action |",
        "|---|---|",
        *(f"| {keys} | {action} |" for keys, action in SHORTCUTS),
        "",
        "---",
        "",
        "Map: Natural Earth 1:110m country outlines (public domain).",
    ]
    return "\n".join(lines) + "\n"
