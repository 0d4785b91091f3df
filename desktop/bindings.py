"""Whether the installed Qt bindings are safe to run the app on."""

from __future__ import annotations

#: Qt binding releases that corrupt reference counts: PySide6 6.12.0 drops a
#: reference to the returned object on every void call and every signal emit
#: (None/True), so a session aborts after a few thousand calls.
BROKEN_PYSIDE = frozenset({"6.12.0"})


def bindings_problem() -> str:
    """Why the installed Qt bindings are unsafe, or '' when they are fine."""
    import PySide6

    if PySide6.__version__ in BROKEN_PYSIDE:
        return (
            f"PySide6 {PySide6.__version__} corrupts Python reference counts and crashes "
            "long sessions; install another release: pip install 'PySide6-Essentials!=6.12.0'"
        )
    return ""
