"""``python -m model.cli COMMAND ...``."""
import sys

from . import main

sys.exit(main())
