"""MNIST: the IDX file format, a verified download, and loading into a :class:`~handgrad.data.Dataset`.

IDX (http://yann.lecun.com/exdb/mnist/): two zero bytes, a dtype code, the number of
dimensions, one big-endian uint32 per dimension, then the values, big-endian, row-major.
The MNIST files are usually gzipped; :func:`read_idx` unpacks them transparently.

Downloads go to a temporary file next to the destination and are renamed into place only
after their SHA-256 matches the digest on record, so an interrupted or corrupted download
never leaves a file that a later run would trust.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_writer
from .dataset import Dataset
from ..errors import InputError

# the two (images, labels) file names per split, without the .gz ending
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

# yann.lecun.com no longer serves the files reliably; these are the mirrors TensorFlow and
# torchvision use
MNIST_MIRRORS = ("https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/")

# SHA-256 of the gzipped files, as recorded by torchvision (torchvision/prototype/datasets/
# _builtin/mnist.py, _CHECKSUMS) and by several other projects that agree with it
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

DEFAULT_MNIST_DIR = Path("~/.cache/handgrad/mnist")

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


# ---------------------------------------------------------------- IDX files

def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), in native byte order."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None
    if data[:2] == _GZIP_MAGIC or path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path} is not a complete gzip file ({exc}); delete it and fetch it again") from None
    return _parse_idx(data, path)


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Decode IDX bytes; every inconsistency is an InputError naming ``path``."""
    if len(data) < 4 or data[:2] != b"\0\0":
        raise InputError(f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise InputError(f"{path}: unknown IDX data type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise InputError(f"{path}: IDX header is truncated or declares {ndim} dimensions")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise InputError(f"{path} is truncated: shape {shape} needs {expected} data bytes, found {found}")
    if found > expected:
        raise InputError(f"{path} has {found - expected} trailing bytes after the data of shape {shape}")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def write_idx(path, array) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in .gz); the inverse of read_idx."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes or array.ndim == 0:
        raise InputError(f"IDX stores 1-D or more arrays of uint8, int8, int16, int32, float32 or "
                         f"float64, got {array.ndim}-D {array.dtype}")
    header = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


# ---------------------------------------------------------------- verified download

def download_mnist(directory=None, splits=("train", "test"), *, mirrors=MNIST_MIRRORS,
                   digests=MNIST_SHA256, timeout: float = 60.0) -> list[Path]:
    """Fetch the gzipped MNIST files of ``splits`` into ``directory`` unless already there.

    Each file is tried from each of ``mirrors`` (base URLs) in turn and accepted only if its
    SHA-256 equals ``digests[file name]``. Returns the paths of the files of ``splits``.
    """
    directory = _mnist_dir(directory)
    paths = []
    for split in _check_splits(splits):
        for stem in MNIST_FILES[split]:
            present = _find(stem, [directory])
            paths.append(present or fetch_verified(f"{stem}.gz", directory, mirrors=mirrors,
                                                   digests=digests, timeout=timeout))
    return paths


def fetch_verified(filename: str, directory, *, mirrors, digests, timeout: float = 60.0) -> Path:
    """Download ``filename`` from the first mirror that serves it with the recorded SHA-256."""
    expected = digests.get(filename)
    if expected is None:
        raise InputError(f"no SHA-256 digest on record for {filename}; refusing to download unverified data")
    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            _download(url, target, expected.lower(), timeout)
            return target
        except InputError as exc:
            failures.append(f"{url}: {exc}")
    raise InputError(f"could not download {filename} into {directory}: " + "; ".join(failures or ["no mirrors given"]))


def _download(url: str, target: Path, sha256: str, timeout: float) -> None:
    """Stream ``url`` into a temp file beside ``target``; rename it into place only if its
    SHA-256 matches (a mismatch or a failed download leaves nothing behind)."""
    digest = hashlib.sha256()
    with atomic_writer(target, suffix=".part") as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InputError(f"download failed ({getattr(exc, 'reason', None) or exc})") from None
        if digest.hexdigest() != sha256:
            raise InputError(f"SHA-256 mismatch (got {digest.hexdigest()}, expected {sha256})")


# ---------------------------------------------------------------- loading

def load_mnist(directory=None, split: str = "train", download: bool = False, cache_dir=None, *,
               mirrors=MNIST_MIRRORS, digests=MNIST_SHA256) -> Dataset:
    """MNIST's ``split`` ("train", "test", or "all" = train then test) as a Dataset.

    Files (plain or .gz) are looked for in ``directory`` (default ``~/.cache/handgrad/mnist``)
    and then in ``cache_dir``; with ``download=True`` missing ones are fetched into
    ``cache_dir`` (default ``directory``). Images become (n, rows·cols) float64 rows with the
    raw pixel values 0..255; labels are int64. For "all", ``test_size`` is the test split's size.
    """
    directory = _mnist_dir(directory)
    fetch_to = Path(cache_dir).expanduser() if cache_dir is not None else directory
    if split not in ("train", "test", "all"):
        raise InputError(f"unknown MNIST split {split!r}; choose train, test or all")
    parts = [_read_split(s, [directory, fetch_to], download, mirrors, digests)
             for s in (("train", "test") if split == "all" else (split,))]
    images = np.concatenate([p[0] for p in parts])  # still uint8: convert once, after joining
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    rows, cols = images.shape[1:]
    X = images.reshape(len(images), rows * cols).astype(np.float64)
    names = [f"pixel_{r}_{c}" for r in range(rows) for c in range(cols)]
    test_size = len(parts[1][1]) if split == "all" else None
    return Dataset(X, labels, names, "mnist" if split == "all" else f"mnist-{split}", "digit",
                   [str(d) for d in range(10)], test_size)


def _read_split(split: str, directories: list[Path], download: bool, mirrors, digests):
    """(images (n, rows, cols), labels (n,)) of one split, checked for agreeing counts."""
    arrays = []
    for stem in MNIST_FILES[split]:
        path = _find(stem, directories)
        if path is None and download:
            path = fetch_verified(f"{stem}.gz", directories[-1], mirrors=mirrors, digests=digests)
        if path is None:
            raise InputError(f"MNIST file {stem}[.gz] not found in {directories[0]}; "
                             "put the files there or allow downloading (download=True; on the command line --download)")
        arrays.append((path, read_idx(path)))
    (image_path, images), (label_path, labels) = arrays
    if images.ndim != 3 or labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise InputError(f"{image_path} / {label_path}: expected (n, rows, cols) images and (n,) integer "
                         f"labels, got shapes {images.shape} and {labels.shape} ({labels.dtype})")
    if len(images) != len(labels):
        raise InputError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels")
    return images, labels


def _find(stem: str, directories) -> Path | None:
    """The first existing ``stem`` or ``stem.gz`` in ``directories``."""
    for directory in directories:
        for name in (stem, f"{stem}.gz"):
            if (Path(directory) / name).is_file():
                return Path(directory) / name
    return None


def _mnist_dir(directory) -> Path:
    return (DEFAULT_MNIST_DIR if directory is None else Path(directory)).expanduser()


def _check_splits(splits) -> tuple[str, ...]:
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    unknown = [s for s in splits if s not in MNIST_FILES]
    if unknown:
        raise InputError(f"unknown MNIST split(s) {unknown}; choose from train, test")
    return splits
