"""Error types of handgrad.

Every refusal of bad input raises :class:`InputError`, which derives from ``ValueError`` so
that ``except ValueError`` keeps working for callers that do not know handgrad's types.
The message always says what was wrong and how to fix it.
"""


class InputError(ValueError):
    """Bad input given to handgrad (shapes, values, names, files)."""


class GradientCheckError(InputError):
    """A user-supplied derivative disagrees with finite differences."""
