"""``handgrad check`` / ``hg.check_backprop``: a learner's backward pass graded array by array,
and the slip named with its layer (issue 27). The submissions are tests/check_submissions/
learner.py, written as a learner writes them, in both conventions."""

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import handgrad as hg
from handgrad.check import SubmissionError

sys.path.insert(0, str(Path(__file__).parent / "check_submissions"))
import learner  # noqa: E402

HERE = Path(__file__).parent / "check_submissions"
CONVENTIONS = ["row", "column"]


def submission(convention, **kw):
    fn = learner.row_backprop if convention == "row" else learner.column_backprop
    return functools.partial(fn, **kw)


@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("head", ["softmax", "logistic", "identity"])
@pytest.mark.parametrize("act", ["relu", "leaky_relu", "sigmoid", "tanh", "identity"])
def test_a_correct_submission_passes(act, head, convention, l2):
    result = hg.check_backprop(submission(convention, act=act, head=head), [4, 7, 5, 3], activation=act,
                               output=head, l2=l2, convention=convention, name="right")
    assert result.passed, str(result)
    assert not result.slips and result.unexplained is None
    assert "the backward pass is right" in str(result)
    assert result._repr_html_() == f"<pre>{__import__('html').escape(str(result))}</pre>"  # notebooks


# (the learner's slip, the slip check must name: (layer, name, array)), on sizes 5-5-5-5-3 (L = 4)
# whose equal widths let every slip be made. The seed notes' own slips (docs/derivations.md §9):
# the p(1 − p) Jacobian (seed 000), the wrong layer's weights (seeds 001, 004), the dropped mask
# (seed 001), a missing transpose, 1/m twice, λW for 2λW.
SLIPS = [
    ("softmax_diagonal", (4, "softmax_diagonal", None), {}),
    ("no_mean", (4, "no_mean", None), {}),
    ("double_mean", (4, "double_mean", None), {}),
    ("output_sign", (4, "output_sign", None), {}),
    ("no_mask@2", (2, "no_mask", None), {}),
    ("derivative_at_A@2", (2, "derivative_at_A", None), {"act": "sigmoid"}),
    ("mask_of_next_layer@1", (1, "mask_of_next_layer", None), {}),
    ("wrong_weights@2", (2, "wrong_weights", None), {}),
    ("no_transpose@2", (2, "no_transpose", None), {}),
    ("half_l2@3", (3, "half_l2", "W"), {"l2": 0.05}),
    ("no_l2@4", (4, "no_l2", "W"), {"l2": 0.05}),
    ("l2_on_bias@2", (2, "l2_on_bias", "b"), {"l2": 0.05}),
    ("array_no_mean:W@3", (3, "array_no_mean", "W"), {}),
    ("array_double_mean:b@2", (2, "array_double_mean", "b"), {}),
    ("transposed@2", (2, "transposed", "W"), {"l2": 0.05}),
    ("negated:W@1", (1, "negated", "W"), {}),
]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("slip,named,extra", SLIPS, ids=[s[0] for s in SLIPS])
def test_each_slip_is_named_with_its_layer(slip, named, extra, convention):
    act, l2 = extra.get("act", "tanh"), extra.get("l2", 0.0)
    fn = submission(convention, act=act, slips=(slip,))
    result = hg.check_backprop(fn, [5, 5, 5, 5, 3], activation=act, l2=l2, convention=convention, name=slip)
    assert not result.passed
    assert result.slips == [named], str(result)
    assert result.unexplained is None
    layer, name, which = named
    wrong = {a["array"] for a in result.arrays if not a["matches"]}
    if which is not None:  # one array, that array only
        assert wrong == {f"d{which}{layer}"}
    else:  # a slip on δ_k: layer k and every layer below
        assert wrong >= {f"dW{layer}", f"dW1"}
        assert not wrong & {f"dW{k}" for k in range(layer + 1, 5)}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_two_different_slips_are_both_named(convention):
    fn = submission(convention, act="relu", slips=("no_mask@1", "half_l2@3"))
    result = hg.check_backprop(fn, [3, 10, 6, 3], activation="relu", l2=0.01, convention=convention, name="two")
    assert result.slips == [(3, "half_l2", "W"), (1, "no_mask", None)], str(result)
    text = str(result)
    assert "layer 3, dW only: the penalty's gradient written λW" in text
    assert "layer 1: the activation mask dropped" in text


def test_a_slip_beyond_the_catalogue_is_called_so_with_its_first_layer():
    def odd(X, Y, weights, biases, l2):
        dW, db = learner.row_backprop(X, Y, weights, biases, l2, act="tanh")
        dW[1] = dW[1] * 1.5 + 0.01  # no slip anyone makes
        return dW, db

    result = hg.check_backprop(odd, [4, 6, 5, 3], activation="tanh", name="odd")
    assert result.unexplained == 2 and not result.slips
    assert "layer 2: dW2/db2 depart from the reference and none of the known slips explains it" in str(result)


def test_a_relu_mask_that_hides_on_one_batch_is_found_on_others():
    """With positive inputs, weights and biases every ReLU is on: the mask is all ones and a
    dropped mask changes nothing on that batch. The random batches show it."""
    import numpy as np
    from handgrad.check.diagnose import diagnose
    from handgrad.check.problem import call, make_problem

    fn = submission("row", act="relu", slips=("no_mask@1",))
    p = make_problem([3, 8, 3], "relu", "softmax", 0.0, 5, 0)
    p.X, p.weights, p.biases = np.abs(p.X), [np.abs(W) for W in p.weights], [np.abs(b) for b in p.biases]
    hidden = diagnose(p, *call(fn, p, "row", "hidden"))
    assert all(a["matches"] for a in hidden["arrays"]) and not hidden["slips"]  # it hides here
    result = hg.check_backprop(fn, [3, 8, 3], activation="relu", trials=3, name="hidden")
    assert result.slips == [(1, "no_mask", None)]


def test_wrong_returns_are_refused_naming_what_came_back():
    p = [4, 6, 3]
    cases = [(lambda *a: None, "must return (dW, db)"),
             (lambda X, Y, W, b, l2: ([w for w in W], [c for c in b][:1]), "returned db as a list of 1"),
             (lambda X, Y, W, b, l2: ([w.T for w in W], list(b)), "it looks transposed"),
             (lambda X, Y, W, b, l2: (list(W), [c.reshape(-1, 1) for c in b]), "reshape them to (6,)"),
             (lambda X, Y, W, b, l2: ([w * float("nan") for w in W], list(b)), "NaN or infinity")]
    for fn, why in cases:
        with pytest.raises(SubmissionError, match=why.replace("(", r"\(").replace(")", r"\)")):
            hg.check_backprop(fn, p)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "handgrad", "check", *args], cwd=HERE, capture_output=True,
                          text=True)


def test_the_command_line_exit_statuses_and_the_learners_own_traceback(tmp_path):
    (tmp_path / "mine.py").write_text(
        "from learner import row_backprop\n\n"
        "def backprop(X, Y, W, b, l2):\n    return row_backprop(X, Y, W, b, l2)\n\n"
        "def slipped(X, Y, W, b, l2):\n    return row_backprop(X, Y, W, b, l2, slips=('half_l2@2',))\n")
    sys_path = str(HERE)
    env_run = lambda *a: subprocess.run([sys.executable, "-m", "handgrad", "check", *a], cwd=tmp_path,  # noqa: E731
                                        capture_output=True, text=True,
                                        env={**__import__("os").environ, "PYTHONPATH": sys_path + ":" +
                                             __import__("os").environ.get("PYTHONPATH", "")})
    ok = env_run("mine.py", "--sizes", "3", "10", "6", "3", "--l2", "0.01")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = env_run("mine.py:slipped", "--sizes", "3", "10", "6", "3", "--l2", "0.01", "--json")
    assert bad.returncode == 1
    out = json.loads(bad.stdout)
    assert out["passed"] is False and out["slips"][0]["slip"] == "half_l2" and out["slips"][0]["layer"] == 2
    boom = _cli("learner.py:raises", "--sizes", "3", "10", "6", "3")
    assert boom.returncode == 2
    assert 'learner.py", line' in boom.stderr and "Z = X @ weights[1]" in boom.stderr
    assert "handgrad/" not in boom.stderr.replace("handgrad check", "")  # none of handgrad's frames
    assert "raised ValueError" in boom.stderr.strip().splitlines()[-1]
    missing = _cli("learner.py:nothing", "--sizes", "3", "3")
    assert missing.returncode == 2 and "has no function 'nothing'" in missing.stderr
