"""scikit-learn's own tests, run on handgrad.sklearn with only the import line swapped.

The test files come from the installed scikit-learn (they ship in its wheel); each is read at
test time, its one ``from sklearn.neural_network import ...`` line replaced by
``from handgrad.sklearn import ...``, written to a temporary directory and run by pytest in a
subprocess with scikit-learn's fixtures (``-p sklearn.conftest``). Every selected test must
pass: no failure, error, skip or expected failure. Nothing of scikit-learn is copied into this
repository.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("sklearn")


def _upstream(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        pytest.skip(f"{module} is not installed with this scikit-learn (its tests were stripped)")
    return Path(spec.origin)


def _swapped(module: str, names: str, tmp_path: Path) -> Path:
    """The test module with ``from sklearn.neural_network import <names>`` (exactly one such
    line, whole) replaced by ``from handgrad.sklearn import <names>``."""
    source = _upstream(module).read_text()
    old = f"from sklearn.neural_network import {names}\n"
    assert source.count(old) == 1 and "handgrad" not in source, \
        f"{module}: expected exactly one line {old.strip()!r} to swap"
    target = tmp_path / f"test_handgrad_{module.rsplit('.', 1)[1].removeprefix('test_')}.py"
    target.write_text(source.replace(old, f"from handgrad.sklearn import {names}\n"))
    return target


def _run(tmp_path: Path, *selection: str) -> tuple[dict, float, str]:
    """pytest on ``selection`` in a subprocess -> (outcome counts, seconds, output)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this repository's settings
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "sklearn.conftest", "-p", "no:cacheprovider",
         "-q", "-rfEsxX", f"--junitxml={report}", *selection],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    counts["returncode"] = proc.returncode
    return counts, seconds, proc.stdout[-6000:] + proc.stderr[-3000:]


def _tests_naming(path: Path, name: str) -> set[str]:
    """Top-level test functions of the file that mention ``name`` (body or decorators)."""
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
            and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))}


def test_scikit_learn_test_mlp_passes_with_the_import_swapped(tmp_path):
    path = _swapped("sklearn.neural_network.tests.test_mlp", "MLPClassifier, MLPRegressor",
                    tmp_path)
    counts, seconds, output = _run(tmp_path, path.name)
    print(f"scikit-learn's test_mlp.py on handgrad.sklearn: {counts} in {seconds:.1f} s")
    assert counts["returncode"] == 0, output
    assert counts["tests"] >= 59 and counts["failures"] == counts["errors"] == 0, output
    assert counts["skipped"] == 0, output  # skips and xfails count as not passing


def test_scikit_learn_stacking_and_validation_tests_of_the_mlp_pass(tmp_path):
    stacking = _swapped("sklearn.ensemble.tests.test_stacking", "MLPClassifier", tmp_path)
    validation = _swapped("sklearn.model_selection.tests.test_validation", "MLPRegressor",
                          tmp_path)
    # the selection below is every test that uses the swapped estimator; fail loudly if a
    # new scikit-learn release adds one, rather than silently leave it out
    assert _tests_naming(stacking, "MLPClassifier") == {
        "test_stacking_classifier_multilabel_predict_proba",
        "test_stacking_classifier_multilabel_auto_predict"}
    assert _tests_naming(validation, "MLPRegressor") == {"test_learning_curve_partial_fit_regressors"}
    counts, seconds, output = _run(
        tmp_path,
        # parametrized over [MLPClassifier, RandomForestClassifier]: the MLP case only
        f"{stacking.name}::test_stacking_classifier_multilabel_predict_proba[MLPClassifier]",
        f"{stacking.name}::test_stacking_classifier_multilabel_auto_predict",
        f"{validation.name}::test_learning_curve_partial_fit_regressors")
    print(f"scikit-learn's stacking/validation MLP tests on handgrad.sklearn: {counts} "
          f"in {seconds:.1f} s")
    assert counts["returncode"] == 0, output
    assert counts["tests"] == 6 and counts["failures"] == counts["errors"] == 0, output
    assert counts["skipped"] == 0, output
