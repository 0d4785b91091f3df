"""``python -m geoscope_desktop``."""

import sys

from geoscope_desktop.app import main

sys.exit(main())
