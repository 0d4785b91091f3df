"""The About box text: GeoScope's version, the model in use and its card."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from geoscope_core import __version__
from geoscope_core.runtime.summary import bundle_summary, model_card

if TYPE_CHECKING:
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_desktop.workers import ModelChoice

log = logging.getLogger(__name__)

#: (keys, action) listed in the About box; the actions themselves are set in main_window.
SHORTCUTS = (
    ("Ctrl+O", "open a folder (or drop one on the window)"),
    ("F5", "scan"),
    ("Esc", "cancel the scan"),
    ("A / R", "accept (and move on) / reject the selected estimates"),
    ("double-click, Space", "open the photo bigger"),
    ("drag to the map", "place the selected photos where you drop them"),
    ("right-click the map", "Place Here: put the selected photos at that point"),
    ("Ctrl+L", "follow the selection on the map (off: the map stays still)"),
    ("Ctrl+Shift+A", "accept every estimate above the confidence threshold"),
    ("Ctrl+S", "write the accepted locations"),
    ("Ctrl+Z", "undo the last write"),
    ("Ctrl+E / Ctrl+Shift+E", "export CSV / GeoJSON"),
    ("Ctrl+F", "filter by file or place name"),
    ("Ctrl+M", "open a model bundle"),
    ("Ctrl+0", "show the whole world on the map"),
    ("F1", "help"),
)


HELP = """# Using GeoScope

1. **Open a folder** (Ctrl+O, or drop it on the window). Nothing is uploaded: every
   estimate is made on this computer.
2. **Scan** (F5). Each photo gets a place with a confidence and a ± radius; a photo
   the model does not know says *unsure*. Photos your own evidence places (a track
   log, your GPS-tagged photos, your hand) are drawn square on the map.
3. **Review.** A accepts (and moves on), R rejects the photo shown. Double-click or
   Space opens the photo bigger. Choose an alternative in the list or on the map.
4. **Place by hand.** Drag photos from the list (or a marker) onto the map, right-click
   the map for *Place Here*, or find a place in the search box. A plain click on the map
   never moves a photo. View ▸ Follow Selection (Ctrl+L) centres the map on each photo
   you select; off, the map stays where you put it.
5. **Your own GPS first.** Scan ▸ Add Track Logs (or drop a GPX, KML, FIT… file) places
   photos by time; Scan ▸ Camera Clocks corrects a camera's clock and the time zone
   it was set to.
6. **Write** (Ctrl+S) the accepted locations into the photos, marked as estimates and
   no finer than their radius; **Undo Last Write** (Ctrl+Z) restores the files byte for
   byte.
"""


def help_markdown() -> str:
    """The Help box: how to use the app, then its keys."""
    keys = ["", "## Keyboard", "", "| keys | action |", "|---|---|"]
    keys += [f"| {k} | {a} |" for k, a in SHORTCUTS]
    return HELP + "\n".join(keys) + "\n"


def about_markdown(choice: ModelChoice, predictor: Predictor | None = None) -> str:
    """Markdown for the About box. Reads the bundle's manifest when no predictor is loaded
    (raises BundleError when the chosen bundle is unusable)."""
    from geoscope_core.runtime.bundle import load_bundle

    bundle = predictor.bundle if predictor is not None else load_bundle(choice.model, verify=False)
    lines = [
        f"# GeoScope {__version__}",
        "",
        "Offline photo geolocation: GeoScope estimates where photos were taken on this "
        "computer and writes the estimate into the photos only when you ask. Nothing is "
        "uploaded.",
        "",
        f"## Model: {bundle.manifest.name}",
        "",
        f"- Identifier: `{bundle.model_id}`",
        *(f"- {label.capitalize()}: {text}" for label, text in bundle_summary(bundle)),
        f"- Runs on: {choice.provider}",
        f"- Location: `{bundle.path}`",
    ]
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
        "Map: Natural Earth 1:110m countries and 1:10m land, lakes, borders and regions "
        "(public domain); place names from GeoNames (CC BY 4.0).",
    ]
    card = model_card(bundle)
    if card:
        lines += ["", "---", "", _demote(card)]
    return "\n".join(lines) + "\n"


def _demote(markdown: str) -> str:
    """The card's headings one level down, under the About box's own."""
    return "\n".join("#" + ln if ln.startswith("#") else ln for ln in markdown.splitlines())
