import sys

from geoscope_core.cli import main

sys.exit(main())
