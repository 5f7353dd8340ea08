"""handgrad: MLP classifiers trained by backpropagation derived and written by hand.

Every gradient is derived in docs/derivations.md, implemented in plain numpy in
:mod:`handgrad.core` (the reference), computed fast in :mod:`handgrad.fast` (proven equal to
the reference by the tests), and checked against finite differences (:func:`gradcheck`).
docs/architecture.md shows the layers.
"""

from . import _compat
from ._version import __version__
from .core.activations import (Activation, available_activations, get_activation, make_leaky_relu,
                               register_activation, unregister_activation)
from .core.losses import (l2_penalty, l2_penalty_grad, log_softmax, logsumexp, quadratic_form,
                          quadratic_form_grad, softmax, softmax_cross_entropy)
from .data import Dataset, load_dataset
from .errors import GradientCheckError, InputError, TrainingDivergedError, TrainingInterrupted
from .check import CheckResult, check_backprop
from .gradcheck import GradcheckReport, gradcheck, gradcheck_function, gradcheck_op
from .model import Model, ModelFileError, load_model, save_model, train_classifier, train_regressor
from .network import MLP
from .training import loop as train  # handgrad.train.Callback, stratified_split, ... (old path)
from .training.loop import History, fit
from .training.many import fit_many

_compat.install()

__all__ = [
    # the network, training and models
    "MLP", "fit", "fit_many", "History", "train_classifier", "train_regressor", "Model", "save_model", "load_model",
    "load_dataset", "Dataset",
    # gradient checking
    "gradcheck", "gradcheck_op", "gradcheck_function", "GradcheckReport",
    # a learner's own backward pass, checked and its slips named
    "check_backprop", "CheckResult",
    # activations and losses
    "Activation", "get_activation", "register_activation", "unregister_activation",
    "available_activations", "make_leaky_relu", "softmax", "log_softmax", "logsumexp",
    "softmax_cross_entropy", "l2_penalty", "l2_penalty_grad", "quadratic_form",
    "quadratic_form_grad",
    # errors
    "InputError", "GradientCheckError", "TrainingDivergedError", "TrainingInterrupted",
    "ModelFileError", "__version__",
    # the old module path of the training loop
    "train",
]
