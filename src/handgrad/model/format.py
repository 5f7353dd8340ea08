"""The model file's format: its names and limits, and :class:`ModelFileError` (shared by the
writer, :mod:`.files`, and the checks, :mod:`.checks`)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

FORMAT = "handgrad-model"
FORMAT_VERSION = 1       # written for models without a table encoding (older handgrad reads them)
TABLE_FORMAT_VERSION = 2  # written for models with one: version 1 readers cannot apply it
REGRESSION_FORMAT_VERSION = 3  # written for regressors: older readers would take them for classifiers
ENSEMBLE_FORMAT_VERSION = 4    # written for ensembles: older readers would predict with one member
CALIBRATED_FORMAT_VERSION = 5  # written for a temperature or a threshold: older readers would ignore them
SUPPORTED_VERSIONS = (1, 2, 3, 4, 5)
META_KEY = "handgrad"
SCALER_TENSORS = ("scaler.mean", "scaler.scale")

# A handgrad MLP is small; the cap keeps a bogus path (a disk image, /dev/zero's cousins)
# from being read into memory. 4 GiB is ~1e9 float32 parameters.
MAX_FILE_BYTES = 4 * 2**30
# The same cap safetensors' own parser applies to the JSON header.
MAX_HEADER_BYTES = 100_000_000

_DTYPE_CODES = {"float32": "F32", "float64": "F64"}          # net dtype -> safetensors code
_CODE_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_CLASS_KINDS = {"int": np.int64, "float": np.float64, "str": str}
_INT64 = np.iinfo(np.int64)


class ModelFileError(InputError):
    """A model file that cannot be loaded: missing, not safetensors, corrupt or inconsistent."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"cannot load model file {self.path}: {self.problem}")


# ----- small helpers of the checks (model/checks.py) and the writer (model/encode.py) ---------

def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be written out as UTF-8: JSON's ``"\\ud800"`` decodes to a lone
    surrogate, which would only fail later, when a prediction is printed or saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _names(names: list[str], limit: int = 8) -> str:
    """A readable list of tensor names, cut short: a corrupt file can hold thousands."""
    shown = ", ".join(_short(n, 40)[1:-1] or "''" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _is_number(value) -> bool:
    """A finite JSON number (not a bool; an int too large for a float is not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _short(value, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: corrupt files can hold huge values."""
    try:
        text = repr(value)
    except RecursionError:
        return "<a deeply nested value>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _field(meta: dict, key: str, path):
    if key not in meta:
        raise ModelFileError(path, f"the metadata has no {key!r}")
    return meta[key]
