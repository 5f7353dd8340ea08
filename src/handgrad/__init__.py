"""handgrad: MLP classifiers trained by backpropagation derived and written by hand.

Every gradient is derived in docs/derivations.md, implemented next to its forward pass, and
checked against finite differences (:func:`gradcheck`).
"""

__version__ = "0.1.0"

from . import train  # noqa: F401  (handgrad.train.Callback, stratified_split, ...)
from .activations import (Activation, available_activations, get_activation, make_leaky_relu,
                          register_activation, unregister_activation)
from .classifier import train_classifier
from .data import Dataset, load_dataset
from .errors import GradientCheckError, InputError, TrainingDivergedError
from .gradcheck import GradcheckReport, gradcheck, gradcheck_function, gradcheck_op
from .io import ModelFileError, load_model, save_model
from .losses import (l2_penalty, l2_penalty_grad, log_softmax, logsumexp, quadratic_form,
                     quadratic_form_grad, softmax, softmax_cross_entropy)
from .model import Model
from .network import MLP
from .train import History, fit

__all__ = [
    # the network, training and models
    "MLP", "fit", "History", "train_classifier", "Model", "save_model", "load_model",
    "load_dataset", "Dataset",
    # gradient checking
    "gradcheck", "gradcheck_op", "gradcheck_function", "GradcheckReport",
    # activations and losses
    "Activation", "get_activation", "register_activation", "unregister_activation",
    "available_activations", "make_leaky_relu", "softmax", "log_softmax", "logsumexp",
    "softmax_cross_entropy", "l2_penalty", "l2_penalty_grad", "quadratic_form",
    "quadratic_form_grad",
    # errors
    "InputError", "GradientCheckError", "TrainingDivergedError", "ModelFileError",
    "__version__",
]
