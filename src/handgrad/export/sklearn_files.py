"""Reading a fitted scikit-learn estimator from a file: ``.skops`` first, a pickle only by consent.

Loading a pickle (or a joblib file, which is a pickle inside) *is* running code: the file says
which functions to call with which arguments, and ``pickle.load`` calls them. So
:func:`load_sklearn` looks at the file's bytes before anything reads it as a pickle:

* a ``skops.io`` file (a zip archive with a ``schema.json``; what ``skops.io.dump`` writes) is
  read by skops with a short list of trusted types — those a fitted MLPClassifier /
  MLPRegressor (scikit-learn's or handgrad's), a Pipeline, a StandardScaler and handgrad's
  TableTransformer hold beyond the types skops trusts by itself. skops audits the whole file
  first and constructs nothing when it holds any other type; that refusal names the types;
* anything else is read as a pickle or joblib file only with ``trust_pickle=True``
  (``--trust-pickle``); without it the file is refused in one line, unread.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

from ..errors import InputError, listed

SKOPS_SUFFIX = ".skops"
SAVE_AS_SKOPS = "save the estimator with skops.io.dump(estimator, 'model.skops') and import that"


def trusted_types() -> list[str]:
    """The types (``module.Class``) a .skops file may hold beyond skops' own trusted ones:
    the optimizers scikit-learn's MLPs keep after fitting, and handgrad's estimators."""
    from ..data.features import TableEncoder
    from ..sklearn import MLPClassifier, MLPRegressor, TableTransformer

    optimizers = [f"sklearn.neural_network._stochastic_optimizers.{name}"
                  for name in ("AdamOptimizer", "SGDOptimizer")]  # where scikit-learn keeps them
    return optimizers + [f"{c.__module__}.{c.__qualname__}" for c in
                         (MLPClassifier, MLPRegressor, TableTransformer, TableEncoder)]


def is_skops_file(path) -> bool:
    """Whether ``path`` holds a skops archive (a zip file with a ``schema.json``), judged from
    its bytes without unpickling anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "schema.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False


def load_sklearn(path, *, trust_pickle: bool = False, consent: str = "trust_pickle=True"):
    """The fitted estimator (or Pipeline) saved at ``path``.

    A ``.skops`` file is read with :func:`trusted_types` (module docstring); a pickle or
    joblib file only with ``trust_pickle=True``, since loading it runs whatever code it holds.
    ``consent`` is how the refusal names that opt-in (``--trust-pickle`` on the command line).

    Raises:
        InputError: a missing file; a pickle without ``trust_pickle``; a .skops file holding
            an untrusted type (named) or damaged; a pickle that cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists()
                         else f"{path} is not a file; give a .skops, pickle or joblib file")
    if is_skops_file(path):
        return _load_skops(path)
    if path.name.lower().endswith(SKOPS_SUFFIX):
        raise InputError(f"{path} is named .skops but is not a skops file (skops.io.dump writes a "
                         "zip archive with a schema.json): it is damaged or in another format")
    if not trust_pickle:
        raise InputError(f"{path} is not a .skops file, and a pickle or joblib file is loaded only "
                         f"with {consent}: loading one runs whatever code it holds; give {consent} "
                         f"if you made or trust this file, or {SAVE_AS_SKOPS}")
    try:
        import joblib  # reads joblib dumps and plain pickles alike

        return joblib.load(path)
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError) as exc:
        raise InputError(f"cannot read {path} as a pickle of a scikit-learn estimator "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None


def _load_skops(path: Path):
    try:
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException
    except ImportError:
        raise InputError(f"reading {path} (a .skops file) needs skops: pip install '.[export]' in "
                         "handgrad's folder") from None
    trusted = trusted_types()
    try:
        return sio.load(path, trusted=trusted)
    except UntrustedTypesFoundException:
        untrusted = _untrusted(sio, path, trusted)
        raise InputError(f"{path} holds type(s) handgrad does not load: {listed(untrusted)}; a .skops "
                         "file to import holds a fitted scikit-learn or handgrad MLPClassifier or "
                         "MLPRegressor, optionally in a Pipeline after a StandardScaler or handgrad's "
                         "TableTransformer (if you trust the file, load it yourself with "
                         "skops.io.load(path, trusted=[...]) and pass the estimator to "
                         "handgrad.export.model_from_sklearn)") from None
    except Exception as exc:  # noqa: BLE001 — a damaged archive fails in many ways, each unread
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"cannot read {path} as a skops file ({type(exc).__name__}"
                         f"{': ' + text if text else ''}); save it again with skops.io.dump") from None


def _untrusted(sio, path: Path, trusted: list[str]) -> list[str]:
    """The types of the skops file at ``path`` that are neither skops' nor ``trusted``."""
    try:
        return [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
    except Exception:  # noqa: BLE001 — the audit already failed; name no type rather than crash
        return ["(unknown)"]
