"""The PNG plots: valid images of the expected size, written atomically; bad input refused."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.image as mpimg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from handgrad.errors import InputError  # noqa: E402
from handgrad.cli.plots import (plot_confusion_matrix, plot_diagnostics,  # noqa: E402
                            plot_learning_curves)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HINT = "plots need matplotlib: pip install '.[cli]' in handgrad's folder"


def make_history(n=40, val=True, l2=0.01, lr_decay=False, layers=3, seed=0):
    """A plausible run: falling loss, rising accuracy, per-layer diagnostics."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(1, n + 1):
        data = 1.1 * math.exp(-e / 8) + 0.08 + 0.01 * rng.random()
        rows.append({
            "epoch": e,
            "train_loss": data + l2,
            "train_data_loss": data,
            "train_l2_loss": l2,
            "train_accuracy": min(0.99, 0.35 + 0.6 * (1 - math.exp(-e / 7))),
            "val_loss": data + 0.05 if val else None,
            "val_accuracy": min(0.97, 0.33 + 0.57 * (1 - math.exp(-e / 7))) if val else None,
            "lr": 0.1 * 0.5 ** (e // 10) if lr_decay else 0.1,
            "time": 0.25,
            "diagnostics": {
                "grad_norm": [math.exp(-e / 15) * (l + 1) for l in range(layers)],
                "update_ratio": [1e-2 * math.exp(-e / 12) * (l + 0.5) for l in range(layers)],
                "dead_fraction": [0.05 + 0.004 * e] + [None] * (layers - 2),
            },
            "some_future_key": "ignored",
        })
    return rows


def read_png(path):
    """Check the file is a PNG that matplotlib can decode; return (height, width)."""
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert float(img[..., :3].std()) > 0.05  # not a blank canvas
    return img.shape[:2]


def only_file(directory, name):
    """The directory holds exactly ``name``: no temporary file was left behind."""
    assert sorted(p.name for p in directory.iterdir()) == [name]


def cm_for(n, seed=0):
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 20, size=(n, n))
    cm[np.arange(n), np.arange(n)] = rng.integers(200, 2000, size=n)
    return cm


# --------------------------------------------------------------------------- learning curves


def test_learning_curves_with_validation_and_best_epoch(tmp_path):
    out = tmp_path / "curves.png"
    got = plot_learning_curves(make_history(), out, title="a run", best_epoch=24)
    assert got == out
    assert read_png(out) == (450, 1200)
    only_file(tmp_path, "curves.png")


def test_learning_curves_without_validation(tmp_path):
    out = plot_learning_curves(make_history(val=False, l2=0.0), tmp_path / "c.png")
    assert read_png(out) == (450, 1200)


def test_learning_curves_with_some_val_loss_none(tmp_path):
    hist = make_history(n=12)
    for row in hist[::3]:  # validation evaluated only on some epochs
        row["val_loss"] = None
        row["val_accuracy"] = None
    out = plot_learning_curves(hist, tmp_path / "c.png", best_epoch=8)
    assert read_png(out) == (450, 1200)


def test_learning_curves_with_lr_schedule_and_log_loss(tmp_path):
    hist = make_history(n=50, lr_decay=True)
    for row in hist:  # spans ~4 decades: log axis
        row["train_loss"] = row["train_data_loss"] = 2.3 * math.exp(-row["epoch"] / 5) + 1e-4
    out = plot_learning_curves(hist, tmp_path / "c.png", best_epoch=50)
    assert read_png(out) == (450, 1200)


def test_learning_curves_single_epoch_and_minimal_keys(tmp_path):
    assert read_png(plot_learning_curves(make_history(n=1), tmp_path / "one.png",
                                         best_epoch=1)) == (450, 1200)
    minimal = [{"train_loss": 1.0 / e} for e in range(1, 6)]  # no epoch, no accuracy, no lr
    assert read_png(plot_learning_curves(minimal, tmp_path / "min.png")) == (450, 1200)


def test_learning_curves_nan_and_inf_are_skipped(tmp_path):
    hist = make_history(n=10)
    hist[4]["train_loss"] = float("nan")
    hist[5]["val_loss"] = float("inf")
    assert read_png(plot_learning_curves(hist, tmp_path / "c.png")) == (450, 1200)


def test_creates_parent_dirs_accepts_str_and_overwrites(tmp_path):
    target = tmp_path / "a" / "b" / "curves.png"
    got = plot_learning_curves(make_history(n=5), str(target))
    assert got == target and target.is_file()
    first = target.read_bytes()
    plot_learning_curves(make_history(n=30), target, best_epoch=3)
    assert target.read_bytes() != first
    only_file(target.parent, "curves.png")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "curves.png"
    target.write_bytes(b"old")

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_learning_curves(make_history(n=5), target)
    assert target.read_bytes() == b"old"
    only_file(tmp_path, "curves.png")


@pytest.mark.parametrize("history, match", [
    ([], "history is empty"),
    ({"epoch": 1}, "list of per-epoch dicts"),
    ("loss", "list of per-epoch dicts"),
    ([{"epoch": 1, "train_loss": 1.0}, 3], r"history\[1\] must be a dict"),
    ([{"epoch": 1, "train_loss": "low"}], "'train_loss' must be a number"),
    ([{"epoch": "first", "train_loss": 1.0}], "'epoch'.* must be a number"),
])
def test_learning_curves_bad_history(tmp_path, history, match):
    with pytest.raises(InputError, match=match):
        plot_learning_curves(history, tmp_path / "c.png")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("best", [0, 41, 2.5, True, "10"])
def test_learning_curves_bad_best_epoch(tmp_path, best):
    with pytest.raises(InputError, match="best_epoch"):
        plot_learning_curves(make_history(), tmp_path / "c.png", best_epoch=best)


def test_path_is_a_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        plot_learning_curves(make_history(n=3), tmp_path)


# --------------------------------------------------------------------------- confusion matrix


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix_two_classes(tmp_path, normalize):
    out = plot_confusion_matrix([[50, 3], [7, 40]], ["no", "yes"], tmp_path / "cm.png",
                                normalize=normalize)
    h, w = read_png(out)
    assert 1.0 <= w / h <= 1.4 and 400 <= h <= 800
    only_file(tmp_path, "cm.png")


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix_twenty_classes(tmp_path, normalize):
    names = [f"long class name {i}" for i in range(20)]
    out = plot_confusion_matrix(cm_for(20), names, tmp_path / "cm.png", title="20 classes",
                                normalize=normalize)
    h, w = read_png(out)
    assert 1.0 <= w / h <= 1.4 and h > 800  # larger than the 2-class image


def test_confusion_matrix_thirty_classes_empty_rows_and_float_counts(tmp_path):
    cm = cm_for(30).astype(float)
    cm[3] = 0  # a class never seen: normalizing must not divide by zero
    cm[4, 5] = 2.5
    names = np.array([str(i) for i in range(30)]).tolist()
    read_png(plot_confusion_matrix(cm, names, tmp_path / "a.png", normalize=True))
    read_png(plot_confusion_matrix(np.zeros((3, 3)), list("abc"), tmp_path / "b.png"))


@pytest.mark.parametrize("cm, names, match", [
    ([[1, 2, 3], [4, 5, 6]], ["a", "b"], "square"),
    ([1, 2, 3], ["a", "b", "c"], "square"),
    (np.zeros((0, 0)), [], "square"),
    ([[1, 2], [3, 4]], ["a", "b", "c"], "class_names has 3 names but cm is 2×2"),
    ([[1, 2], [3, 4]], "ab", "class_names must be a list"),
    ([[1, -2], [3, 4]], ["a", "b"], "non-negative"),
    ([[1, float("nan")], [3, 4]], ["a", "b"], "finite"),
    ([["x", "y"], ["z", "w"]], ["a", "b"], "array of counts"),
])
def test_confusion_matrix_bad_input(tmp_path, cm, names, match):
    with pytest.raises(InputError, match=match):
        plot_confusion_matrix(cm, names, tmp_path / "cm.png")
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- diagnostics


def test_diagnostics(tmp_path):
    out = plot_diagnostics(make_history(), tmp_path / "d" / "diag.png")
    assert read_png(out) == (450, 1350)
    only_file(tmp_path / "d", "diag.png")


def test_diagnostics_many_layers_zeros_and_missing_epochs(tmp_path):
    hist = make_history(n=15, layers=12)
    hist[0]["diagnostics"]["grad_norm"][0] = 0.0  # cannot be drawn on a log axis
    del hist[3]["diagnostics"]
    hist[4]["diagnostics"] = None
    hist[5]["diagnostics"]["update_ratio"] = [None] * 12
    assert read_png(plot_diagnostics(hist, tmp_path / "d.png")) == (450, 1350)


def test_diagnostics_without_dead_fraction(tmp_path):
    hist = make_history(n=8)
    for row in hist:  # tanh network: no ReLU can die
        row["diagnostics"]["dead_fraction"] = [None, None]
    assert read_png(plot_diagnostics(hist, tmp_path / "d.png")) == (450, 1350)


def test_diagnostics_bad_input(tmp_path):
    with pytest.raises(InputError, match="history is empty"):
        plot_diagnostics([], tmp_path / "d.png")
    with pytest.raises(InputError, match="no diagnostics"):
        plot_diagnostics([{"epoch": 1, "train_loss": 1.0}], tmp_path / "d.png")
    with pytest.raises(InputError, match=r"\['diagnostics'\] must be a dict"):
        plot_diagnostics([{"epoch": 1, "diagnostics": [1.0]}], tmp_path / "d.png")
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- matplotlib use


def test_missing_matplotlib_gives_install_hint(tmp_path, monkeypatch):
    for mod in ["matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"]:
        monkeypatch.setitem(sys.modules, mod, None)  # makes `import mod` raise ImportError
    hist = make_history(n=3)
    for call in (lambda: plot_learning_curves(hist, tmp_path / "c.png"),
                 lambda: plot_confusion_matrix([[1, 0], [0, 1]], ["a", "b"], tmp_path / "m.png"),
                 lambda: plot_diagnostics(hist, tmp_path / "d.png")):
        with pytest.raises(InputError, match=re.escape(HINT)):
            call()
    assert not any(tmp_path.iterdir())


def test_no_pyplot_and_backend_untouched(tmp_path):
    """Plotting neither imports pyplot nor changes the (interactive) backend of the session."""
    code = textwrap.dedent(f"""
        import sys
        import matplotlib
        matplotlib.use("TkAgg", force=False)  # what an interactive session might have chosen
        before = matplotlib.get_backend()
        import handgrad.cli.plots as p
        assert "matplotlib" in sys.modules and "matplotlib.pyplot" not in sys.modules
        p.plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], {str(tmp_path / "m.png")!r})
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        assert matplotlib.get_backend() == before
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, handgrad.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_plot_helper_that_hangs_is_stopped_at_the_time_limit(monkeypatch):
    """PlotWorker.wait gives up after TIMEOUT seconds with one line, and stops the helper
    (here a stand-in that never ends, writing nothing)."""
    import subprocess
    import sys
    import time

    from handgrad.cli.draw import PlotWorker
    from handgrad.errors import InputError

    worker = PlotWorker.__new__(PlotWorker)
    worker.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    monkeypatch.setattr(PlotWorker, "TIMEOUT", 0.5)
    t0 = time.monotonic()
    with pytest.raises(InputError, match="drawing the plots took over .* minutes; rerun with --no-plot"):
        worker.wait()
    assert time.monotonic() - t0 < 10 and worker.proc.poll() is not None
