"""Ensembles (issue 25): greedy selection, the weighted mean, the two ways members are chosen
(cross-validation on small data, one hold-out part on more rows), the model file, ONNX and
PyTorch as one graph, and the command line's --ensemble."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import handgrad as hg
from handgrad.cli.main import main
from handgrad.errors import InputError
from handgrad.model.classifier import train_model
from handgrad.model.crossval import CV_BELOW
from handgrad.model.ensemble import greedy_selection, member_settings
from handgrad.model.files import load_model, model_from_bytes, model_to_bytes


def _blobs(n, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, d)) + 1.5 * np.eye(k, d)[y]
    return X, y


def _alone(model, k):
    """Member k as a model of its own (same encoding, scaling and classes)."""
    return dataclasses.replace(model, net=model.networks[k], members=[], member_weights=None)


def _three(model, dtype="float64"):
    """The model with three networks of different shapes, so that the mean is not one member's."""
    d, out, act = model.net.sizes[0], model.net.sizes[-1], model.net.output
    nets = [model.net, hg.MLP([d, 7, out], output=act, seed=3, dtype=dtype),
            hg.MLP([d, 5, 4, out], activation="tanh", output=act, seed=4, dtype=dtype)]
    return dataclasses.replace(model, net=nets[0], members=nets[1:], member_weights=np.array([0.5, 0.3, 0.2]))


# ----- selection ------------------------------------------------------------------------------

def test_greedy_selection_adds_the_best_member_first_and_mixes_when_the_mean_is_better():
    truth = np.array([0, 1, 0, 1])
    # member 0 is right with 0.6 everywhere; members 1 and 2 are each sure and wrong on one row,
    # and their mean is right with 0.75 (less log loss than member 0 alone)
    held = np.array([[[.6, .4], [.4, .6], [.6, .4], [.4, .6]],
                     [[.95, .05], [.05, .95], [.45, .55], [.05, .95]],
                     [[.55, .45], [.05, .95], [.95, .05], [.05, .95]]])
    w, curve = greedy_selection(held, truth, regression=False, rounds=10)
    assert w.shape == (3,) and abs(w.sum() - 1) < 1e-12
    assert w[1] > 0 and w[2] > 0
    assert curve[0] == pytest.approx(min(-np.log(held[k][np.arange(4), truth]).mean() for k in range(3)))
    mix = np.tensordot(w, held, axes=1)
    assert -np.log(mix[np.arange(4), truth]).mean() < curve[0]


def test_greedy_selection_of_numbers_scores_the_squared_error():
    truth = np.array([[1.0], [2.0], [3.0]])
    held = np.array([truth + 1, truth - 1, truth + 0.1])
    w, curve = greedy_selection(held, truth, regression=True, rounds=6)
    # first the closest member; then one pull the other way cancels most of its bias of +0.1
    assert curve[0] == pytest.approx(0.01) and w[2] == pytest.approx(5 / 6) and w[1] == pytest.approx(1 / 6)
    mix = np.tensordot(w, held, axes=1)
    assert curve[-1] == pytest.approx(((mix - truth) ** 2).mean()) and curve[-1] < curve[0]


def test_members_share_the_default_shape_and_draw_l2_lr_and_seed():
    s = member_settings(6, 3, 64, "classification")
    assert s[0] == {"hidden_sizes": [64], "activation": "relu", "l2": 1e-4, "lr": 1e-3, "seed": 3}
    assert all(m["hidden_sizes"] == [64] and m["activation"] == "relu" for m in s)
    assert len({m["seed"] for m in s}) == 6 and len({m["lr"] for m in s}) == 6
    assert member_settings(6, 3, 64, "classification") == s  # seeded
    assert member_settings(3, 0, 32, "regression")[0]["activation"] == "tanh"


# ----- the weighted mean --------------------------------------------------------------------

@pytest.mark.parametrize("task", ["classification", "regression"])
def test_an_ensemble_predicts_the_weighted_mean_of_its_members_alone(task):
    X, y = _blobs(300)
    if task == "regression":
        y = X @ np.arange(1, 6) + np.sin(X[:, 0])
    model = _three(train_model(X, y, task=task, ensemble=1, epochs=3, dtype="float64"))
    # chunked prediction (batch_size 64 < rows) crosses chunk boundaries
    if task == "classification":
        mixed = model.predict_proba(X, batch_size=64)
        alone = sum(w * _alone(model, k).predict_proba(X) for k, w in enumerate(model.weights))
        np.testing.assert_allclose(mixed, alone, rtol=0, atol=1e-12)
        assert np.array_equal(model.predict(X), model.classes[np.argmax(alone, axis=1)])
    else:
        mixed = model.predict(X, batch_size=64)
        # the mean is taken of μ before the target scaling is undone (linear here: the same)
        alone = sum(w * _alone(model, k).predict(X) for k, w in enumerate(model.weights))
        np.testing.assert_allclose(mixed, alone, rtol=1e-12, atol=1e-9)


def test_an_ensemble_file_round_trips_bit_for_bit():
    X, y = _blobs(200)
    model = _three(train_model(X, y, epochs=2, dtype="float64"))
    back = model_from_bytes(model_to_bytes(model))
    assert len(back.networks) == 3 and np.array_equal(back.weights, model.weights)
    assert np.array_equal(back.predict_proba(X), model.predict_proba(X))


# ----- training -------------------------------------------------------------------------------

def test_small_data_chooses_members_on_out_of_fold_predictions_and_refits_them():
    X, y = _blobs(400)
    model = train_model(X, y, ensemble=4, epochs=30, dtype="float64", seed=1)
    rec = model.record["ensemble"]
    assert "cross-validation" in rec["held_out"] and len(rec["members"]) == 4
    kept = [m for m in rec["members"] if m["weight"] > 0]
    assert len(model.networks) == len(kept) and np.allclose(model.weights, [m["weight"] for m in kept])
    assert model.record["n_train"] == 400  # the kept members were trained again on every row
    # each kept member trained its own chosen epochs
    assert sorted(len(n.sizes) for n in model.networks) == [3] * len(kept)
    assert model.score(X, y) > 0.8


@pytest.mark.parametrize("seed", [1, 2])
def test_the_member_trained_alone_beside_the_stack_gives_the_sequential_model(seed, monkeypatch):
    """On all rows the first kept member trains alone (its diagnostics) while the other kept
    members train stacked in a forked process; the model equals training them one after the
    other (one core: nothing forked), every network bit for bit."""
    import handgrad.training.many_workers as mw

    X, y = _blobs(400, seed=seed)
    both = train_model(X, y, ensemble=8, epochs=25, dtype="float64", seed=seed)
    monkeypatch.setattr(mw, "available_cores", lambda: 1)
    alone = train_model(X, y, ensemble=8, epochs=25, dtype="float64", seed=seed)
    assert len(both.networks) == len(alone.networks) >= 2  # a stack beside the one alone
    for a, b in zip(both.networks, alone.networks):
        assert np.array_equal(a.flat, b.flat)
    untimed = [[{k: v for k, v in e.items() if k != "time"} for e in m.record["history"]["epochs"]]
               for m in (both, alone)]
    assert untimed[0] == untimed[1] and "diagnostics" in untimed[0][0]  # the one alone recorded them


def test_more_rows_share_one_hold_out_part_and_keep_the_members_as_trained():
    X, y = _blobs(CV_BELOW + 200, seed=2)
    model = train_model(X, y, ensemble=3, epochs=3, seed=2)
    rec = model.record["ensemble"]
    assert "hold-out part of 0.1" in rec["held_out"] and len(rec["members"]) == 3
    # the validation part one network's run would hold out
    assert model.record["n_val"] == train_model(X, y, epochs=1, seed=2).record["n_val"] == pytest.approx(520, abs=3)


def test_regression_ensembles_train_and_beat_the_mean():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = 50 + 10 * X[:, 0] - 5 * X[:, 1] ** 2 + rng.normal(size=300)
    model = hg.train_regressor(X, y, ensemble=4, epochs=60)
    assert model.record["ensemble"]["score"] == "mean squared error"
    assert model.score(X, y) > 0.7


@pytest.mark.parametrize("kw, fragment", [
    (dict(ensemble=0), "ensemble must be a whole number ≥ 1"),
    (dict(ensemble=2.5), "ensemble must be a whole number ≥ 1"),
    (dict(ensemble=3, hidden_sizes=[8]), "chooses each member's hidden_sizes itself"),
    (dict(ensemble=3, lr=0.1), "chooses each member's lr itself"),
    (dict(ensemble=3, refit=True), "refit does not go with an ensemble"),
    (dict(ensemble=3, validation_fraction=0.0), "validation_fraction > 0"),
])
def test_ensemble_arguments_are_checked(kw, fragment):
    X, y = _blobs(100)
    with pytest.raises(InputError, match=fragment):
        train_model(X, y, epochs=2, **kw)


# ----- leaving the process ----------------------------------------------------------------

def _table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n).round(3),
                          "colour": rng.choice(["red", "green", "blue"], n),
                          "w": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))})
    kind = np.where((frame.colour == "red") ^ (frame.x > 0.3), "a", "b")
    value = 3 * frame.x + (frame.colour == "red") + rng.normal(scale=0.1, size=n)
    return frame, kind, value.to_numpy()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_onnx_runtime_and_torch_equal_handgrad_on_an_ensemble_of_a_table(task):
    ort = pytest.importorskip("onnxruntime")
    from handgrad.export import onnx_inputs, to_onnx

    frame, kind, value = _table()
    model = _three(train_model(frame, value if task == "regression" else kind, task=task, epochs=3),
                   dtype="float32")
    session = ort.InferenceSession(to_onnx(model).SerializeToString())
    out = session.run(None, onnx_inputs(model, frame))
    if task == "classification":
        label, proba = out
        np.testing.assert_allclose(proba, model.predict_proba(frame), rtol=1e-5, atol=1e-6)
        assert np.array_equal(label, model.predict(frame))
    else:
        np.testing.assert_allclose(out[0][:, 0], model.predict(frame), rtol=1e-5)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_torch_export_of_an_ensemble_is_one_module_equal_to_handgrad(task):
    torch = pytest.importorskip("torch")
    from handgrad.export import build_torch_module, to_torch

    X, y = _blobs(150)
    if task == "regression":
        y = X @ np.arange(1, 6)
    model = _three(train_model(X, y, task=task, epochs=2, dtype="float64"))
    saved = to_torch(model)
    module = build_torch_module(saved["architecture"], saved["state_dict"])
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    want = model.predict_proba(X) if task == "classification" else model.predict(X)[:, None]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ----- the command line ---------------------------------------------------------------------

def test_cli_trains_an_ensemble_and_every_command_reads_it(tmp_path, capsys):
    frame, kind, _ = _table(300)
    frame["kind"] = kind
    frame.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "kind", "--ensemble", "4",
                 "--epochs", "20", "--no-plot", "--out-dir", str(out)]) == 0
    said = capsys.readouterr().out
    assert "note: ensemble:" in said and "networks kept by greedy selection" in said
    model = load_model(out / "model.safetensors")
    assert len(model.record["ensemble"]["members"]) == 4
    assert main(["info", str(out / "model.safetensors")]) == 0
    info = capsys.readouterr().out
    assert "members kept by greedy selection" in info and info.count("  member ") == 4
    assert main(["predict", str(out / "model.safetensors"), "--data", str(tmp_path / "t.csv"),
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert np.array_equal(pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy(),
                          model.predict(frame.drop(columns="kind")))
    assert main(["derive", str(out / "model.safetensors"), "--member", "0"]) == 0


@pytest.mark.parametrize("extra, fragment", [
    (["--hidden", "32"], "draws each member's --hidden itself"),
    (["--lr", "0.01"], "draws each member's --lr itself"),
    (["--search"], "--search does not go with --ensemble 3"),
    (["--refit"], "--refit does not go with --ensemble 3"),
    (["--checkpoint-dir", "ck"], "--checkpoint-dir does not go with --ensemble 3"),
])
def test_cli_refuses_what_an_ensemble_decides_itself(extra, fragment, tmp_path, capsys):
    assert main(["train", "--dataset", "iris", "--ensemble", "3", "--no-plot", "--out-dir",
                 str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_cli_refuses_an_ensemble_of_none(tmp_path, capsys):
    assert main(["train", "--dataset", "iris", "--ensemble", "0", "--out-dir", str(tmp_path)]) == 2
    assert "--ensemble" in capsys.readouterr().err


@pytest.mark.parametrize("n, what", [(600, "an ensemble of 8 members, each over 5 folds, 40 networks"),
                                     (CV_BELOW + 10, "an ensemble of 8 members, 8 networks")])
def test_an_ensemble_too_large_for_memory_is_refused_before_any_member_is_built(n, what, monkeypatch):
    from handgrad import memory_plan
    from handgrad.model import ensemble

    monkeypatch.setattr(memory_plan, "available_memory", lambda: 30 * 10**6)
    monkeypatch.setattr(memory_plan, "address_space_left", lambda: None)
    built = []
    monkeypatch.setattr(ensemble, "prepare_run", lambda *a, **k: built.append(1))
    X = np.random.default_rng(0).normal(size=(n, 400))
    with pytest.raises(InputError) as info:
        train_model(X, np.arange(n) % 3, ensemble=8, epochs=1)
    msg = str(info.value)
    assert what in msg and "fewer members (ensemble, --ensemble)" in msg and "\n" not in msg and not built


def test_cli_ensemble_plots_warns_of_the_cap_and_takes_the_largest_seed(tmp_path, capsys):
    # the first kept member trains alone and records the backprop diagnostics
    assert main(["train", "--dataset", "iris", "--ensemble", "3", "--epochs", "3", "--seed", str(2**63 - 1),
                 "--out-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert (tmp_path / "learning_curve.png").exists() and (tmp_path / "confusion_matrix.png").exists()
    assert (tmp_path / "diagnostics.png").exists() and "backprop diagnostics" in out
    assert "runs of the ensemble's kept members ran the whole 3 epochs" in err
    model = load_model(tmp_path / "model.safetensors")
    assert "ran the whole 3 epochs" in model.record["warnings"][0]
