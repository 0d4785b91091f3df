"""Which model bundle the app runs, where, and the predictor loaded for it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from geoscope_desktop.workers import ModelChoice

if TYPE_CHECKING:
    from geoscope_core.runtime.predictor import Predictor
    from geoscope_desktop.settings_store import AppSettings

log = logging.getLogger(__name__)


class ModelController(QObject):
    """The chosen bundle and provider (kept in ``settings``) and the loaded predictor.

    A predictor is reused only for the choice it was loaded for. ``changed()``
    fires when the choice or the loaded predictor changes.
    """

    changed = Signal()

    def __init__(
        self, settings: AppSettings, choice: ModelChoice, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self.choice = choice
        self.predictor: Predictor | None = None
        self._loaded_for: ModelChoice | None = None

    def set_choice(self, choice: ModelChoice) -> None:
        self.choice = choice
        self._settings.set_model_choice(choice)
        if self._loaded_for != choice:
            self.predictor = None
            self._loaded_for = None
        self.changed.emit()

    def use_default(self) -> None:
        self.set_choice(ModelChoice(None, self.choice.provider))

    def set_provider(self, provider: str) -> None:
        self.set_choice(ModelChoice(self.choice.model, provider))

    def open_bundle(self, folder: Path) -> None:
        """Use the bundle in ``folder`` after verifying it (raises BundleError)."""
        from geoscope_core.runtime.bundle import load_bundle

        load_bundle(folder, verify=True)
        self.set_choice(ModelChoice(str(folder), self.choice.provider))

    def loaded(self, predictor: Predictor) -> None:
        """A scan loaded ``predictor`` for the current choice."""
        self.predictor = predictor
        self._loaded_for = self.choice
        self.changed.emit()

    def reusable_predictor(self) -> Predictor | None:
        """The loaded predictor when it belongs to the current choice, else None."""
        return self.predictor if self._loaded_for == self.choice else None

    def label(self) -> str:
        if self.predictor is not None:
            return f"Model: {self.predictor.model_id} · {self.choice.provider}"
        return f"Model: {self.choice.label}"

    def about_markdown(self) -> str:
        """The About box: version, the model and its card (or why the model is unreadable)."""
        from geoscope_core import __version__
        from geoscope_core.errors import GeoScopeError
        from geoscope_desktop.about import about_markdown

        try:
            return about_markdown(self.choice, self.predictor)
        except GeoScopeError as e:
            return f"# GeoScope {__version__}\n\nThe model could not be read: {e}"


def cuda_available() -> bool:
    """Whether ONNX Runtime here has a CUDA provider."""
    try:
        import onnxruntime

        return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    except ImportError:
        return False
