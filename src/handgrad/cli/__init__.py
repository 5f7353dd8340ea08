"""The ``handgrad`` command line: argument parsing (:mod:`.main`), the commands, terminal
output and plots."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
