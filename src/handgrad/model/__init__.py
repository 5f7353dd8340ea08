"""Trained models: raw features and labels in, predictions out (:class:`Model`), their files
(safetensors + JSON metadata), and training one from a raw table (:func:`train_classifier`)."""

from .classifier import train_classifier, train_regressor
from .files import ModelFileError, load_model, save_model
from .model import Model

__all__ = ["Model", "ModelFileError", "load_model", "save_model", "train_classifier", "train_regressor"]
