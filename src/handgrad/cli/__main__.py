"""``python -m handgrad.cli`` runs the command line, as ``python -m handgrad`` does."""

import sys

from .main import main

sys.exit(main())
