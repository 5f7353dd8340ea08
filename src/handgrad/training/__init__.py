"""Training: the loop shared by :func:`handgrad.fit` and the scikit-learn estimators,
optimizers and schedules, validation splits, diagnostics and checkpoints."""
