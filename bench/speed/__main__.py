"""``python -m bench.speed``: the speed benchmark (options in bench/speed/cli.py)."""

import sys

from .cli import main

sys.exit(main())
