"""``handgrad report``: one self-contained HTML page per model, checked by parsing it — every
picture inside the page, nothing fetched from elsewhere, and its numbers those of
``evaluate --json`` — for a classifier (an ensemble, two classes, a table), a regressor, and a
model reported without data."""

import json
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.scripts, self.cells, self._in = [], [], [], [], None
        self.evaluation = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag in ("link", "iframe") or (tag == "script" and "src" in a):
            self.links.append((tag, a))
        if tag == "script":
            self._in = a.get("id")
        if tag == "td":
            self._in = "td"

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "handgrad-evaluation":
            self.evaluation = json.loads(data.replace("<\\/", "</"))
        elif self._in == "td":
            self.cells.append(data)


def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", "handgrad", *args], cwd=cwd, capture_output=True, text=True)


def _parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    palmerpenguins = pytest.importorskip("palmerpenguins")
    d = tmp_path_factory.mktemp("report")
    frame = palmerpenguins.load_penguins()
    frame["big"] = np.where(frame["body_mass_g"] > 4000, "yes", "no")
    order = np.random.default_rng(0).permutation(len(frame))
    frame.iloc[order[:270]].to_csv(d / "train.csv", index=False)
    frame.iloc[order[270:]].to_csv(d / "test.csv", index=False)
    return d


def test_a_classifier_ensembles_page_holds_its_pictures_and_evaluates_numbers(tables):
    done = _run(["train", "--data", "train.csv", "--target", "big", "--drop", "body_mass_g", "--no-plot",
                 "--quiet", "--out-dir", "cls", "--threshold-metric", "f1"], tables)
    assert done.returncode == 0, done.stderr
    made = _run(["report", "cls/model.safetensors", "--data", "test.csv", "--out", "cls/page.html"], tables)
    assert made.returncode == 0, made.stderr
    page = _parse(tables / "cls" / "page.html")
    assert len(page.images) == 5  # learning curves, confusion, reliability, ROC/PR, importance
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert not page.links  # nothing to fetch: viewable offline
    ev = json.loads(_run(["evaluate", "cls/model.safetensors", "--data", "test.csv", "--json"], tables).stdout)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "roc_auc", "ece", "confusion_matrix",
                "per_class", "n_samples"):
        assert page.evaluation[key] == ev[key], key
    for key in ("accuracy", "balanced_accuracy", "log_loss", "roc_auc", "ece"):
        assert f"{ev[key]:.4f}" in page.cells, key  # the table shows the same numbers
    text = (tables / "cls" / "page.html").read_text()
    assert "threshold" in text and "member" in text and "Columns that matter" in text


def test_a_regressors_page_and_a_page_without_data(tables):
    done = _run(["train", "--data", "train.csv", "--target", "body_mass_g", "--drop", "big", "--no-plot",
                 "--quiet", "--out-dir", "reg"], tables)
    assert done.returncode == 0, done.stderr
    made = _run(["report", "reg/model.safetensors", "--data", "test.csv"], tables)
    assert made.returncode == 0, made.stderr
    page = _parse(tables / "reg" / "model.html")  # default: the model's name with .html
    ev = json.loads(_run(["evaluate", "reg/model.safetensors", "--data", "test.csv", "--json"], tables).stdout)
    assert page.evaluation["r2"] == ev["r2"] and f"{ev['r2']:.4f}" in page.cells
    assert len(page.images) == 3 and all(s.startswith("data:image/png;base64,") for s in page.images)
    bare = _run(["report", "reg/model.safetensors", "--out", "reg/bare.html"], tables)
    assert bare.returncode == 0, bare.stderr
    page = _parse(tables / "reg" / "bare.html")
    assert page.evaluation is None and len(page.images) == 1
    assert "Scores recorded at training" in (tables / "reg" / "bare.html").read_text()


def test_report_refuses_in_one_line(tables, tmp_path):
    for args, why in ((["report", "nope.safetensors"], "no such file"),
                      (["report", "nope.safetensors", "--out", str(tmp_path)], "is a directory"),
                      (["report", "nope.safetensors", "--data", "test.csv", "--repeats", "0"], "--repeats")):
        bad = _run(args, tables)
        assert bad.returncode != 0 and why in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
