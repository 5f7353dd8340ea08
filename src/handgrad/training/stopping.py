"""Early stopping, shared by one training run (:class:`~handgrad.training.run.TrainingRun`) and
each member of a group trained side by side (:func:`handgrad.training.many.fit_many`).

After each epoch the monitored value (its negative for a score, so smaller is better) is
compared with the best so far: an improvement larger than ``min_delta`` makes this epoch the
best (its weights are kept when ``restore_best``); otherwise ``wait`` counts up, and training
stops when it reaches ``patience``. A plateau schedule sees every value.
"""

from __future__ import annotations


class EarlyStopping:
    """The bookkeeping of early stopping. The class using it sets ``history`` (a
    :class:`~handgrad.training.history.History`), ``sched``, ``sign`` (+1 for a loss, −1 for a
    score), ``best`` (+inf at the start), ``best_flat`` (None), ``wait`` (0), ``patience``,
    ``min_delta``, ``restore_best`` and ``net`` (whose ``flat`` holds this epoch's weights)."""

    def _early_stop(self, record: dict) -> bool:
        """Book the epoch's ``record``; True (and the history's stop reason says so) when
        training should stop."""
        metric = self.sign * record[self.history.monitor]
        self.sched.observe(metric)
        if metric < self.best - self.min_delta:
            self.best, self.wait = metric, 0
            self.history.best_epoch = record["epoch"]
            if self.patience is not None and self.restore_best:
                self.best_flat = self.net.flat.copy()
            return False
        self.wait += 1
        if self.patience is None or self.wait < self.patience:
            return False
        self.history.stop_reason = (f"early stopping: no improvement of {self.history.monitor} "
                                    f"for {self.patience} epochs")
        return True

    def _restore_best(self) -> None:
        """At the end of training: the best epoch's weights back, when they were kept."""
        if self.restore_best and self.patience is not None and self.best_flat is not None:
            self.net.flat[...] = self.best_flat
