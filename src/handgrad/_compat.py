"""Old module paths, from before the package had layers, kept importable.

``import handgrad.losses`` (and ``from handgrad.train import Callback`` etc.) still work: a
finder on ``sys.meta_path`` answers each old name with the module that now holds the code, so
both names refer to one module object (same functions, same classes, same state). New code
should import the new paths; CHANGELOG.md lists every move.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "handgrad.activations": "handgrad.core.activations",
    "handgrad.layers": "handgrad.core.dense",
    "handgrad.losses": "handgrad.core.losses",
    "handgrad.heads": "handgrad.core.heads",
    "handgrad.init": "handgrad.core.init",
    "handgrad.regularization": "handgrad.core.regularization",
    "handgrad.workspace": "handgrad.fast.memory",
    "handgrad.blas": "handgrad.fast.blas",
    "handgrad.train": "handgrad.training.loop",
    "handgrad.optim": "handgrad.training.optim",
    "handgrad.diagnostics": "handgrad.training.diagnostics",
    "handgrad.checkpoint": "handgrad.training.checkpoint",
    "handgrad.mnist": "handgrad.data.mnist",
    "handgrad.preprocessing": "handgrad.data.preprocessing",
    "handgrad.io": "handgrad.model.files",
    "handgrad.classifier": "handgrad.model.classifier",
    "handgrad.commands": "handgrad.cli.commands",
    "handgrad.terminal": "handgrad.cli.terminal",
    "handgrad.plots": "handgrad.cli.plots",
    "handgrad.evaluation": "handgrad.cli.evaluation",
    "handgrad.demo": "handgrad.cli.demo",
}
# ("handgrad.data", "handgrad.model" and "handgrad.cli" are packages now under their old
# names; their public names are re-exported by their __init__.)


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve an old module name to the module object at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None or new == fullname:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module):
        # the import system has just set __spec__ to the old name's spec: put the real one back
        module.__spec__ = self._real_spec


def install() -> None:
    if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
        sys.meta_path.append(_OldPaths())
