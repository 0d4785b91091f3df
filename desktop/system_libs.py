"""Which system libraries Qt's X11 (xcb) platform plugin needs, and which are missing.

Qt aborts the process when the xcb plugin cannot load (it cannot be caught), so
the app checks first and names the packages to install. The sonames are what
the PySide6 wheel's ``libqxcb.so`` and ``libQt6XcbQpa.so`` link to, plus
``libxcb-cursor`` which Qt >= 6.5 loads at run time; the package names are
Debian/Ubuntu's (``make desktop-deps`` installs them).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

#: soname -> Debian package that ships it
XCB_LIBS: Mapping[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
}


def missing_libraries(sonames: Iterable[str] = XCB_LIBS) -> list[str]:
    """The sonames among ``sonames`` the dynamic loader cannot open."""
    bundled = getattr(sys, "_MEIPASS", None)  # a frozen build carries its own copies
    missing = []
    for name in sonames:
        candidates = [os.path.join(bundled, name), name] if bundled else [name]
        for candidate in candidates:
            try:
                ctypes.CDLL(candidate)
                break
            except OSError:
                continue
        else:
            missing.append(name)
    return missing


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will try the xcb plugin: Linux, X11 display, no other platform chosen."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def xcb_problem(missing: Iterable[str]) -> str:
    """What to tell the user when ``missing`` sonames keep the window from opening."""
    missing = list(missing)
    if not missing:
        return ""
    packages = sorted({XCB_LIBS.get(m, m) for m in missing})
    return (
        "the window cannot open: Qt's X11 plugin needs system libraries that are not "
        f"installed ({', '.join(missing)}). Install them with\n"
        f"    sudo apt-get install {' '.join(packages)}\n"
        "(or `make desktop-deps` in a GeoScope checkout), or run under Wayland "
        "(QT_QPA_PLATFORM=wayland)."
    )


if __name__ == "__main__":  # `make desktop-deps` asks for the package names
    print(" ".join(sorted(set(XCB_LIBS.values()))))
