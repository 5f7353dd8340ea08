"""The problems a learner's backward pass is graded on, and the call into it.

The contract (docs/check.md): ``FUNCTION(X, Y, weights, biases, l2)`` returns ``(dW, db)``,
one array per layer each, the gradients of

    L = (1/m) Σ_i ℓ_i + λ Σ_l ‖W_l‖²_F

(ℓ_i the head's per-sample loss: cross-entropy of the softmax, binary cross-entropy summed over
the logistic outputs, or half the squared error of the identity; derivations.md §3, §12) with
respect to the weights and biases, shaped like what they differentiate.

* row convention (the default): X (m, n₀), Y (m, K), W_l (n_{l−1}, n_l), b_l (n_l,);
* column convention (the seeds' 001/003 form): X (n₀, m), Y (K, m), W_l (n_l, n_{l−1}),
  b_l (n_l, 1).

Internally everything is the row convention (``core``'s); a column submission is transposed on
the way in and out.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ..core.activations import Activation, get_activation
from ..errors import InputError

CONVENTIONS = ("row", "column")
OUTPUTS = ("softmax", "logistic", "identity")


class SubmissionError(InputError):
    """The learner's function could not be graded: it raised (``trace``: its own lines), or
    returned the wrong number of arrays, shapes, or NaN. Exit status 2."""

    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


@dataclass
class Problem:
    """One graded batch, in the row convention: sizes, hidden activations, head, λ, and the
    arrays (X (m, n₀), Y (m, K) — one-hot rows for softmax —, W_l, b_l)."""

    sizes: list[int]
    activations: list[Activation]
    output: str
    l2: float
    X: np.ndarray
    Y: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @property
    def L(self) -> int:
        return len(self.weights)

    @property
    def m(self) -> int:
        return self.X.shape[0]


def make_problem(sizes, activation, output: str, l2: float, batch: int, seed: int) -> Problem:
    """A random problem: inputs and weights of moderate size (so no unit saturates), biases not
    zero (a slip on them shows), targets of the head's kind."""
    rng = np.random.default_rng(seed)
    names = activation if isinstance(activation, (list, tuple)) else [activation] * (len(sizes) - 2)
    if len(names) != len(sizes) - 2:
        raise InputError(f"give one activation, or one per hidden layer ({len(sizes) - 2}), got {len(names)}")
    acts = [get_activation(a) for a in names]
    X = rng.normal(size=(batch, sizes[0]))
    weights = [rng.normal(scale=1.0 / np.sqrt(n_in), size=(n_in, n_out)) for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [rng.normal(scale=0.3, size=n_out) for n_out in sizes[1:]]
    K = sizes[-1]
    if output == "softmax":
        Y = np.eye(K)[rng.integers(0, K, batch)]
    elif output == "logistic":
        Y = (rng.random((batch, K)) < 0.5).astype(np.float64)
    else:
        Y = rng.normal(size=(batch, K))
    return Problem(list(sizes), acts, output, float(l2), X, Y, weights, biases)


def learner_arrays(p: Problem, convention: str):
    """(X, Y, weights, biases) as the learner's convention has them (fresh copies: a function
    that writes into its inputs cannot spoil the reference)."""
    if convention == "row":
        return p.X.copy(), p.Y.copy(), [W.copy() for W in p.weights], [b.copy() for b in p.biases]
    return (p.X.T.copy(), p.Y.T.copy(), [W.T.copy() for W in p.weights], [b.reshape(-1, 1).copy() for b in p.biases])


def call(fn, p: Problem, convention: str, where: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The learner's ``(dW, db)`` for problem ``p``, in the row convention; a refusal that says
    what is wrong with what came back, or shows the learner's own traceback lines."""
    X, Y, weights, biases = learner_arrays(p, convention)
    try:
        with np.errstate(all="ignore"):
            out = fn(X, Y, weights, biases, p.l2)
    except Exception as exc:  # noqa: BLE001 - whatever the learner's code raises is reported
        raise SubmissionError(f"{where} raised {type(exc).__name__}: {exc}", _their_lines(exc)) from None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise SubmissionError(f"{where} must return (dW, db), two lists of {p.L} arrays; it returned "
                              f"{_what(out)}")
    dW, db = (list(x) if isinstance(x, (list, tuple)) else x for x in out)
    for name, got in (("dW", dW), ("db", db)):
        if not isinstance(got, list) or len(got) != p.L:
            raise SubmissionError(f"{where} returned {name} as {_what(got)}: give a list of {p.L} arrays, "
                                  f"one per layer ({name}[0] for layer 1)")
    row_dW, row_db = [], []
    for l in range(p.L):
        n_in, n_out = p.sizes[l], p.sizes[l + 1]
        want = {"dW": (n_in, n_out) if convention == "row" else (n_out, n_in),
                "db": (n_out,) if convention == "row" else (n_out, 1)}
        for name, arrays, keep in (("dW", dW, row_dW), ("db", db, row_db)):
            try:
                a = np.asarray(arrays[l], dtype=np.float64)
            except (TypeError, ValueError):
                raise SubmissionError(f"{name}[{l}] (layer {l + 1}) is {_what(arrays[l])}, not an array of numbers") from None
            shape = want[name]
            if a.shape != shape:
                hint = ""
                if a.shape == shape[::-1] and len(shape) == 2:
                    hint = (f": it looks transposed ({name}{l + 1} has the shape of what it differentiates, "
                            f"{'W' if name == 'dW' else 'b'}{l + 1})")
                elif name == "db" and a.size == shape[0]:
                    hint = f": the right numbers, reshape them to {shape}"
                raise SubmissionError(f"{name}[{l}] (layer {l + 1}) has shape {a.shape}, expected {shape} "
                                      f"({convention} convention){hint}")
            if not np.all(np.isfinite(a)):
                raise SubmissionError(f"{name}[{l}] (layer {l + 1}) holds NaN or infinity")
            keep.append((a.T if convention == "column" else a) if name == "dW" else a.reshape(-1))
    return row_dW, row_db


def _what(x) -> str:
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return type(x).__name__


def _their_lines(exc: BaseException) -> str:
    """The traceback's frames outside handgrad: the learner's code (and what it called)."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])  # the handgrad package
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(root)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def load_function(spec: str):
    """``FILE.py[:FUNCTION]`` (default function ``backprop``) loaded: the file runs as a module
    of its own. A file that does not run is a SubmissionError showing the learner's lines."""
    import importlib.util
    from pathlib import Path

    path, _, name = spec.partition(":")
    name = name or "backprop"
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path}: no such file (give FILE.py or FILE.py:FUNCTION)")
    module_spec = importlib.util.spec_from_file_location(f"handgrad_check_{file.stem}", file)
    if module_spec is None or module_spec.loader is None:
        raise InputError(f"{path} is not a Python file (give FILE.py or FILE.py:FUNCTION)")
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(file.resolve().parent))  # the learner's own imports beside the file
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001
        raise SubmissionError(f"{path} could not be run: {type(exc).__name__}: {exc}", _their_lines(exc)) from None
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if not callable(fn):
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise InputError(f"{path} has no function {name!r}" + (f"; it defines {', '.join(found)}: give "
                                                               f"{path}:NAME" if found else ""))
    return fn, f"{file.name}:{name}"
