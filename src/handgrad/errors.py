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
    """At most ``limit`` of ``values`` for a message, each cut to 60 characters, then how many
    there are in all: a message naming the labels of a 900-class column, or the columns of a
    10,000-column table, stays one readable line."""
    values = list(values)
    shown = ", ".join(_cut(repr(v)) for v in values[:limit])
    return shown if len(values) <= limit else f"{shown}, … ({len(values)} in all)"


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value) -> str:
    """A value for a message, as a person writes it: numbers plain (``9e+300``, ``12.5``,
    ``nan``; never numpy's ``np.float64(12.5)``), anything else as its repr, cut to 60
    characters."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return _cut(repr(value))


def row_of(index: int) -> str:
    """``"row 3"`` for the 0-based position 2: messages count data rows from 1, as a person
    (and a spreadsheet without its header line) counts them."""
    return f"row {int(index) + 1}"


def cell_of(cell: tuple[int, int], row_offset: int = 0, column_names=None) -> str:
    """``"row 3, column 'price'"`` (or ``column 2`` without names) for the 0-based position
    ``cell`` of a chunk starting at ``row_offset``: every message counts rows and columns
    from 1, as people and spreadsheets count them (:func:`row_of`)."""
    r, c = (int(i) for i in cell)
    column = (repr(str(column_names[c])) if column_names is not None and c < len(column_names)
              else str(c + 1))
    return f"{row_of(r + row_offset)}, column {column}"

