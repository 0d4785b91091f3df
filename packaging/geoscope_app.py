"""Entry script of the frozen desktop app (PyInstaller)."""

import os
import sys

if "--self-test" in sys.argv:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from geoscope_desktop.app import main

sys.exit(main())
