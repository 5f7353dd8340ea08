"""PyTorch export: a ``state_dict`` plus a small architecture description, and
:func:`build_torch_module`, which rebuilds the equivalent ``torch.nn.Sequential``.

The Sequential, in order: ``Standardize`` (only when the model standardises its inputs:
``((x.double() − mean)/scale)`` cast to the network's dtype, as handgrad does it), then per
layer ``nn.Linear`` (weight = W_lᵀ, bias = b_l) and the hidden activation (``nn.ReLU``,
``nn.LeakyReLU(α)``, ``nn.Sigmoid``, ``nn.Tanh``; nothing for identity), then the head:
``nn.Softmax(dim=1)``; ``TwoClass`` ([σ(−z), σ(z)], a two-class handgrad.sklearn classifier);
``nn.Sigmoid`` (logistic outputs); ``Exp`` (Poisson); nothing (identity, huber); then, for a
regression Model, ``TargetScale`` (``g⁻¹(x.double()·scale + mean)``, float64 buffers, g = log
when the model learned log y: the target's units, as ``Model.predict``). Its output is
handgrad's ``predict_proba`` for classifiers (not clipped to [tiny, 1 − ε/2]) and
``predict`` for regressors: in the network's dtype, except a regression Model's, which is
float64 (the target scaling runs in double, as handgrad's).

An ensemble Model's networks become one ``Mixture`` module in place of the layers: each
network a Sequential of its own ending in its head (softmax, or μ), the output
``Σ_k w_k·net_k(x)`` summed in double with the model's weights (a float64 buffer).

The file :func:`save_torch` writes is ``torch.save({"state_dict", "architecture"})`` holding
only tensors, strings and numbers, so ``torch.load(path, weights_only=True)`` reads it without
running code; :func:`load_torch` does that and rebuilds the module. A table model (text
columns, empty cells) has no tensor form of its encoding: export it to ONNX instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import InputError
from .spec import portable

FORMAT = "handgrad-torch"
FORMAT_VERSION = 3  # 2: a regression Model's target scaling (a TargetScale module); 3: an ensemble (Mixture)


def _torch():
    try:
        import torch
    except ImportError:
        raise InputError("PyTorch export needs torch: pip install torch (the CPU build is enough)") from None
    return torch


def to_torch(obj) -> dict:
    """``{"state_dict": {name: tensor}, "architecture": {...}}`` for ``obj`` (a Model, model file
    path, MLP, fitted handgrad.sklearn estimator or a Pipeline of a StandardScaler and one).

    Raises:
        InputError: a table model, a custom activation, or torch missing.
    """
    torch = _torch()
    if isinstance(obj, (str, Path)):
        from ..model.files import load_model

        obj = load_model(obj)
    p = portable(obj)
    if p.encoder is not None:
        raise InputError("a model trained on a table encodes text columns and empty cells, which "
                         "have no tensor form; export it with --format onnx (or handgrad.export."
                         "to_onnx), or apply model.encoder.transform before a network exported from "
                         "model.net (and, for a regressor, model.target.inverse after it)")
    arch = {"format": FORMAT, "format_version": 1 if p.target_kind is None else 2,
            "handgrad_version": __version__,
            "source": p.source, "dtype": p.dtype.name, "sizes": p.sizes, "head": p.head,
            "task": p.task, "standardize": p.mean is not None,
            "activations": [{"name": n, "alpha": a} if n == "leaky_relu" else {"name": n}
                            for n, a in p.activations]}
    if p.classes is not None:
        arch["classes"] = np.asarray(p.classes).tolist()
    if p.feature_names is not None:
        arch["feature_names"] = list(p.feature_names)
    if p.target_kind is not None:
        arch["target"] = {"kind": p.target_kind}  # mean and scale: float64 tensors in state_dict
    if p.target_names is not None:
        arch["target_names"] = list(p.target_names)
    if p.members:
        arch["format_version"] = 3
        arch["members"] = [{"sizes": m.sizes, "activations": [{"name": n, "alpha": a} if n == "leaky_relu"
                                                             else {"name": n} for n, a in m.activations]}
                           for m in p.members]
    state = {}
    for key, value in _module_tensors(p):
        state[key] = torch.from_numpy(np.ascontiguousarray(value))
    return {"state_dict": state, "architecture": arch}


def _module_tensors(p):
    """(state_dict key, array) in the Sequential's order (:func:`_layers` gives the indices)."""
    index = 0
    if p.mean is not None:
        yield "0.mean", p.mean.astype(np.float64)
        yield "0.scale", p.scale.astype(np.float64)
        index = 1
    if p.members:  # one Mixture module: each network a Sequential of its own, then the weights
        for k, net in enumerate([p, *p.members]):
            for key, value in _network_tensors(net, p.dtype, 0):
                yield f"{index}.nets.{k}.{key}", value
        yield f"{index}.weights", np.asarray(p.member_weights, dtype=np.float64)
        index += 1
    else:
        index = yield from _network_tensors(p, p.dtype, index)
        index += p.head == "exp"  # the head's module; identity and huber have none
    if p.target_kind is not None:
        yield f"{index}.mean", p.target_mean.astype(np.float64)
        yield f"{index}.scale", p.target_scale.astype(np.float64)


def save_torch(obj, path, inputs=()) -> Path:
    """``torch.save`` :func:`to_torch`'s dict to ``path`` (written atomically); return the path.
    ``path`` is never ``obj`` when that is a model file's path, nor one of ``inputs``."""
    import io

    from ..atomic import atomic_write_bytes
    from .spec import source_files

    torch = _torch()
    buffer = io.BytesIO()
    torch.save(to_torch(obj), buffer)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue(), inputs=[*inputs, *source_files(obj)])
    return path


def load_torch(path):
    """The ``torch.nn.Sequential`` saved by :func:`save_torch` (read with weights_only=True)."""
    torch = _torch()
    saved = torch.load(path, weights_only=True)
    if not isinstance(saved, dict) or "architecture" not in saved or "state_dict" not in saved:
        raise InputError(f"{path} is not a handgrad PyTorch export (no architecture/state_dict)")
    return build_torch_module(saved["architecture"], saved["state_dict"])


def _network_tensors(net, dtype, index: int):
    """(key, array) of one network's Linear layers, from Sequential index ``index`` on; returns
    the index after its last layer's modules."""
    for layer, (W, b) in enumerate(zip(net.weights, net.biases)):
        yield f"{index}.weight", W.T.astype(dtype)
        yield f"{index}.bias", b.astype(dtype)
        index += 1
        if layer < len(net.activations) and net.activations[layer][0] != "identity":
            index += 1
    return index


def build_torch_module(architecture: dict, state_dict=None):
    """The ``torch.nn.Sequential`` described by ``architecture`` (see the module docstring),
    in its dtype, in eval mode, with ``state_dict`` loaded if given (strictly: every tensor
    must be there). Input (N, n_features) → probabilities (N, K) or values (N, n_outputs)."""
    torch = _torch()
    if not isinstance(architecture, dict) or architecture.get("format") != FORMAT:
        raise InputError("not a handgrad PyTorch architecture (its 'format' must be "
                         f"{FORMAT!r}); use the dict handgrad.export.to_torch returns")
    if architecture.get("format_version", 1) > FORMAT_VERSION:
        raise InputError(f"this PyTorch export is format_version {architecture['format_version']}, "
                         f"newer than this handgrad reads ({FORMAT_VERSION}); upgrade handgrad")
    dtype = {"float32": torch.float32, "float64": torch.float64}[architecture["dtype"]]
    module = torch.nn.Sequential(*_layers(torch, architecture, dtype))
    module.to(dtype)
    if architecture.get("standardize"):
        module[0].double()  # its buffers stay float64 whatever the network's dtype
    if architecture.get("target") is not None:
        module[-1].double()  # so do the target scaling's
    if architecture.get("members"):  # and the ensemble's weights
        mixture = module[1 if architecture.get("standardize") else 0]
        mixture.register_buffer("weights", mixture.weights.double())
    if state_dict is not None:
        module.load_state_dict(state_dict, strict=True)
    return module.eval()


def _layers(torch, arch, dtype) -> list:
    layers = [_Standardize(torch, arch["sizes"][0], dtype)] if arch.get("standardize") else []
    if arch.get("members"):
        nets = [torch.nn.Sequential(*_network(torch, a["sizes"], a["activations"], arch))
                for a in [arch, *arch["members"]]]
        layers.append(_Mixture(torch, nets, dtype))
    else:
        layers += _network(torch, arch["sizes"], arch["activations"], arch)
    if arch.get("target") is not None:
        layers.append(_TargetScale(torch, arch["sizes"][-1], arch["target"]["kind"] == "log"))
    return layers


def _network(torch, sizes, acts, arch) -> list:
    """One network's modules: Linear and activation per layer, then the head's."""
    nn = torch.nn
    layers = []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if layer < len(acts):
            name = acts[layer]["name"]
            if name == "relu":
                layers.append(nn.ReLU())
            elif name == "leaky_relu":
                layers.append(nn.LeakyReLU(negative_slope=float(acts[layer]["alpha"])))
            elif name == "sigmoid":
                layers.append(nn.Sigmoid())
            elif name == "tanh":
                layers.append(nn.Tanh())
            elif name != "identity":
                raise InputError(f"activation {name!r} has no PyTorch module here")
    head, task = arch["head"], arch["task"]
    if task == "binary":
        layers.append(_TwoClass(torch))
    elif head == "softmax":
        layers.append(nn.Softmax(dim=1))
    elif head == "logistic":
        layers.append(nn.Sigmoid())
    elif head == "exp":
        layers.append(_Exp(torch))
    return layers


def _Mixture(torch, nets: list, dtype):
    """An ensemble: ``Σ_k weights_k·net_k(x)`` summed in double (each net ends in its head:
    probabilities, or μ), given in the networks' dtype, as ``Model`` averages; ``weights`` a
    float64 buffer (K,)."""

    class Mixture(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.nets = torch.nn.ModuleList(nets)
            self.register_buffer("weights", torch.full((len(nets),), 1 / len(nets), dtype=torch.float64))

        def forward(self, x):
            return sum(w * net(x).double() for w, net in zip(self.weights, self.nets)).to(dtype)

    return Mixture()


def _Standardize(torch, n_features: int, dtype):
    """``((x.double() − mean)/scale).to(dtype)``, mean and scale float64 buffers (n_features,)."""

    class Standardize(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.zeros(n_features, dtype=torch.float64))
            self.register_buffer("scale", torch.ones(n_features, dtype=torch.float64))

        def forward(self, x):
            return ((x.double() - self.mean) / self.scale).to(dtype)

    return Standardize()


def _TargetScale(torch, n_outputs: int, log: bool):
    """A regression Model's predictions in the target's units: ``x.double()·scale + mean``,
    then e^· when the model learned log y (``log``); mean and scale float64 buffers
    (n_outputs,)."""

    class TargetScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.log = log
            self.register_buffer("mean", torch.zeros(n_outputs, dtype=torch.float64))
            self.register_buffer("scale", torch.ones(n_outputs, dtype=torch.float64))

        def forward(self, x):
            y = x.double() * self.scale + self.mean
            return torch.exp(y) if self.log else y

        def extra_repr(self):
            return f"log={self.log}"

    return TargetScale()


def _TwoClass(torch):
    """(N, 1) logits z -> (N, 2) probabilities [σ(−z), σ(z)] (a two-class classifier)."""

    class TwoClass(torch.nn.Module):
        def forward(self, z):
            return torch.cat([torch.sigmoid(-z), torch.sigmoid(z)], dim=1)

    return TwoClass()


def _Exp(torch):
    """``e^z``: the Poisson head's mean."""

    class Exp(torch.nn.Module):
        def forward(self, z):
            return torch.exp(z)

    return Exp()
