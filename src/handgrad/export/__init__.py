"""Leaving the Python process: export handgrad models to ONNX and PyTorch, register a
converter with skl2onnx, and import fitted scikit-learn MLPs (docs/export.md).

Needs the ``export`` extra (``pip install ".[export]"``: onnx, onnxruntime, skl2onnx); the
PyTorch export needs torch. Every function takes a :class:`~handgrad.model.Model` (or the
path of a model file), an :class:`~handgrad.MLP`, a fitted
:class:`handgrad.sklearn.MLPClassifier` / :class:`~handgrad.sklearn.MLPRegressor`, or a
Pipeline of a StandardScaler or TableTransformer and one of those. A regression Model exports
with its target scaling, so every format predicts in the target's units. :func:`load_sklearn`
reads a fitted scikit-learn estimator from a ``.skops`` file (trusted types only), or from a
pickle only with ``trust_pickle=True``.
"""

from .onnx_export import onnx_inputs, save_onnx, to_onnx
from .skl2onnx_converter import register_skl2onnx, skl2onnx_inputs
from .sklearn_files import load_sklearn
from .sklearn_import import estimator_from_model, handgrad_estimator, model_from_sklearn
from .spec import Portable, portable
from .torch_export import build_torch_module, load_torch, save_torch, to_torch

__all__ = ["Portable", "build_torch_module", "estimator_from_model", "handgrad_estimator",
           "load_sklearn", "load_torch", "model_from_sklearn", "onnx_inputs", "portable", "register_skl2onnx",
           "save_onnx", "save_torch", "skl2onnx_inputs", "to_onnx", "to_torch"]
