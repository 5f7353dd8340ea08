"""The ``handgrad`` command line: argument parsing (:mod:`.main`), the commands, terminal
output and plots."""

from .main import main

__all__ = ["main"]
