"""What a training run records: :class:`History`, and the :class:`Callback` hooks."""

from __future__ import annotations

from dataclasses import dataclass, field


def epoch_record(epoch: int, lr: float, data_sum: float, l2_sum: float, correct, n: int) -> dict:
    """An epoch's entry of :attr:`History.epochs` from the row-weighted sums of its steps over
    ``n`` training rows (``correct`` None for regression); validation values still None."""
    return {"epoch": epoch + 1, "lr": lr, "train_loss": (data_sum + l2_sum) / n,
            "train_data_loss": data_sum / n, "train_l2_loss": l2_sum / n,
            "train_accuracy": None if correct is None else correct / n,
            "val_loss": None, "val_accuracy": None}


def divergence(epoch: int, what: str, lr: float) -> str:
    """Why a run stopped in ``epoch`` (0-based) when its loss or weights went NaN/inf."""
    return (f"diverged in epoch {epoch + 1}: {what}; try a smaller learning rate (now {lr:g}) — "
            f"the weights from the start of epoch {epoch + 1} were kept")


@dataclass
class History:
    """What happened during :func:`fit`.

    ``epochs`` is a list with one dict per epoch:

    * ``epoch`` (1-based), ``lr``, ``time`` (seconds);
    * ``train_loss`` = ``train_data_loss`` + ``train_l2_loss``, averaged over the epoch's
      mini-batches (weighted by batch size) while the weights were changing; ``train_accuracy``
      likewise;
    * ``val_loss`` (the cross-entropy on the validation set at the end of the epoch, without
      the L2 term, so compare it with ``train_data_loss``) and ``val_accuracy``, or None;
    * ``diagnostics``: per layer ``grad_norm`` (‖∂L/∂W_l‖_F at the epoch's last step),
      ``update_ratio`` (‖ΔW_l‖_F / ‖W_l‖_F of that step) and per hidden layer
      ``dead_fraction`` (ReLU-family units whose pre-activation was ≤ 0 on every training
      row of the epoch; None for other activations); see :mod:`handgrad.training.diagnostics`.

    ``best_epoch`` is the epoch whose weights the network holds at the end when early
    stopping restored them; ``stop_reason`` says why training ended; ``data_parallel``, for a
    run over several MPI ranks, how (ranks, global batch, MPI library), else None;
    ``resumed_from``, for a run that continued from a checkpoint, where: ``{"epoch": epochs
    completed before, "batch": batches of the next one (0: at an epoch's end), "checkpoint":
    its file name, "skipped": notes on damaged newer checkpoints passed over}``, else None.
    """

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str = ""
    monitor: str = "val_loss"
    data_parallel: dict | None = None
    diverged_in: int | None = None  # fit_many: the epoch in which this model diverged
    resumed_from: dict | None = None

    def __getitem__(self, key: str) -> list:
        """``history["val_loss"]`` -> that value for every epoch."""
        return [e.get(key) for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def to_dict(self) -> dict:
        out = {"epochs": self.epochs, "best_epoch": self.best_epoch,
               "stop_reason": self.stop_reason, "monitor": self.monitor}
        if self.diverged_in is not None:
            out["diverged_in"] = self.diverged_in
        if self.data_parallel is not None:
            out["data_parallel"] = self.data_parallel
        if self.resumed_from is not None:
            out["resumed_from"] = self.resumed_from
        return out


class Callback:
    """Optional hooks. Any callable ``cb(record, net)`` also works as an epoch-end callback;
    returning True (or setting ``stop = True``) stops training after this epoch."""

    def on_train_begin(self, info: dict) -> None: ...
    def on_batch_end(self, epoch: int, batch: int, n_batches: int, loss: float) -> None: ...
    def on_epoch_end(self, record: dict, net) -> bool | None: ...
    def on_train_end(self, history: History) -> None: ...
