"""Fixtures every adversarial case can name: ``{train_csv}``, ``{model}`` (a table model
trained on it), ``{digits_model}`` (a numeric model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def shared_files(tmp_path_factory) -> dict:
    from handgrad.cli.main import main

    d = tmp_path_factory.mktemp("adversarial")
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({"length": rng.normal(40, 5, n).round(1),
                          "colour": rng.choice(["red", "green", "blue"], n),
                          "weight": np.where(rng.random(n) < 0.1, np.nan, rng.normal(4, 1, n).round(2))})
    frame["kind"] = np.where((frame.colour == "red") | (frame.length > 42), "big", "small")
    frame.to_csv(d / "train.csv", index=False)
    assert main(["train", "--data", str(d / "train.csv"), "--target", "kind", "--epochs", "3",
                 "--no-plot", "--quiet", "--out-dir", str(d / "m")]) == 0
    assert main(["train", "--dataset", "iris", "--epochs", "3", "--no-plot", "--quiet",
                 "--out-dir", str(d / "n")]) == 0
    return {"train_csv": d / "train.csv", "model": d / "m" / "model.safetensors",
            "numeric_model": d / "n" / "model.safetensors"}
