"""Error types of handgrad.

Every refusal of bad input raises :class:`InputError`, which derives from ``ValueError`` so
that ``except ValueError`` keeps working for callers that do not know handgrad's types.
The message always says what was wrong and how to fix it.
"""


class InputError(ValueError):
    """Bad input given to handgrad (shapes, values, names, files)."""


class GradientCheckError(InputError):
    """A user-supplied derivative disagrees with finite differences."""


class TrainingDivergedError(FloatingPointError):
    """The loss or the weights became NaN/inf during training.

    Attributes: ``epoch`` (1-based) where it happened, ``history`` of the completed epochs.
    The network holds the last good weights (those at the start of that epoch).
    """

    def __init__(self, message: str, epoch: int, history=None):
        super().__init__(message)
        self.epoch = epoch
        self.history = history


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`~handgrad.fit`: the current step was finished and, with a
    checkpoint directory, a checkpoint written. ``epoch`` (1-based) and ``history`` say where
    it stopped. A ``KeyboardInterrupt``, so code that does not know it still stops."""

    def __init__(self, message: str, epoch: int, history=None):
        super().__init__(message)
        self.epoch = epoch
        self.history = history


def listed(values, limit: int = 10) -> str:
    """At most ``limit`` of ``values`` for a message, then how many there are in all: a
    message naming the labels of a 900-class column stays one readable line."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown if len(values) <= limit else f"{shown}, … ({len(values)} in all)"
