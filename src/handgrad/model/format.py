"""The model file's format: its names and limits, and :class:`ModelFileError` (shared by the
writer, :mod:`.files`, and the checks, :mod:`.checks`)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

FORMAT = "handgrad-model"
FORMAT_VERSION = 1       # written for models without a table encoding (older handgrad reads them)
TABLE_FORMAT_VERSION = 2  # written for models with one: version 1 readers cannot apply it
SUPPORTED_VERSIONS = (1, 2)
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
