"""Work-arounds for bugs in the installed Qt bindings.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a
reference, so every emit from Python drops one reference to ``True``; after a
few hundred emits (a scan emits several per photo) the interpreter aborts with
"bool_dealloc: deallocating True or False". ``emit`` below gives the reference
back when (and only when) the running bindings are measured to lose it.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

_lock = threading.Lock()
_emit_loses_ref: bool | None = None
_PROBE_EMITS = 64


class _Probe(QObject):
    ping = Signal(int)


def emit_loses_reference() -> bool:
    """True when ``Signal.emit`` returns a bool it holds no reference to (measured once)."""
    global _emit_loses_ref
    with _lock:
        if _emit_loses_ref is None:
            probe = _Probe()
            keep = [True] * _PROBE_EMITS  # headroom so the probe itself cannot underflow
            before = sys.getrefcount(True)
            for _ in range(_PROBE_EMITS):
                probe.ping.emit(0)
            lost = before - sys.getrefcount(True)
            if lost > _PROBE_EMITS // 2:
                for _ in range(_PROBE_EMITS):
                    ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
            del keep
            _emit_loses_ref = lost > _PROBE_EMITS // 2
        return _emit_loses_ref


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, repairing the bindings' reference count when needed."""
    result = signal.emit(*args)
    if isinstance(result, bool) and emit_loses_reference():
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
