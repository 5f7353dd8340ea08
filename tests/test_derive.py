"""handgrad derive: the §8 network matches docs/derivations.md §8, every activation, head and
depth derives, the references point at real sections and functions, errors are one line."""

import importlib
import re
from pathlib import Path

import numpy as np
import pytest

import handgrad as hg
from handgrad.derive import derivation, derive, derive_network
from handgrad.errors import InputError

DOC = (Path(__file__).parents[1] / "docs" / "derivations.md").read_text()
ACTIVATIONS = ["relu", "leaky_relu(alpha=0.2)", "sigmoid", "tanh", "identity"]
HEADS = ["softmax", "logistic", "identity", "exp", "huber"]


def table_rows(markdown: str) -> dict[str, tuple[str, str]]:
    """Label -> (equation, shape) of every F/B row of the Markdown tables in ``markdown``."""
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[FB]\d+", cells[0]):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def section8() -> str:
    return DOC.split("## 8. Worked example", 1)[1].split("\n## 9.", 1)[0]


def norm_eq(cell: str) -> str:
    """An equation cell without its $…$, spaces and prose; §8's n (its batch size) is m."""
    math = "".join(re.findall(r"\$([^$]*)\$", cell))
    math = re.sub(r"\\frac1([nm])", r"\\frac{1}{\1}", math).replace("\\frac{1}{n}", "\\frac{1}{m}")
    return re.sub(r"\s+", "", math)


def parse_shape(cell: str, m: int):
    """(operand matrix shapes, result shape) of a shape cell; §8's n is the batch size m."""
    math = "".join(re.findall(r"\$([^$]*)\$", cell)).replace("n", str(m))
    if not re.search(r"\d", math):
        return [], "scalar"
    lhs, sep, rhs = re.split(r"(=|\\to)", math)[-3:] if re.search(r"=|\\to", math) else ("", "", math)
    dims = lambda s: [tuple(int(x) for x in re.split(r"\\times", g)) for g in
                      re.findall(r"\(?(\d+(?:\s*\\times\s*\d+)*),?\)?", s)]
    return [d for d in dims(lhs) if len(d) == 2], dims(rhs)[-1]


def test_seed004_network_matches_section_8():
    ours = table_rows(derive([3, 10, 6, 3], "relu", l2=0.01, batch=5, format="markdown"))
    theirs = table_rows(section8())
    assert sorted(theirs) == sorted(ours)  # F1-F7, B1-B11: the same steps, the same numbering
    for label, (eq, shp) in theirs.items():
        assert norm_eq(ours[label][0]) == norm_eq(eq), label
        ops, res = parse_shape(shp, 5)
        our_ops, our_res = parse_shape(ours[label][1], 5)
        assert our_res == res, label
        assert our_ops[:len(ops)] == ops, label  # every shape §8 writes, in the same place


def test_without_l2_no_penalty_term():
    doc = derive([3, 10, 6, 3], "relu", format="markdown")
    rows = table_rows(doc)
    assert "\\lambda" not in rows["B2"][0] and "\\lambda" not in rows["F7"][0]
    assert "No L2 penalty" in doc


@pytest.mark.parametrize("depth", range(1, 7))
@pytest.mark.parametrize("output", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_head_and_depth(activation, output, depth):
    sizes = [4] + [5, 3, 6, 2, 4][:depth - 1] + [3]
    for l2 in (0.0, 0.05):
        d = derivation(sizes, activation, output=output, l2=l2, batch=3)
        L = depth
        # forward: Z and A per layer, output, loss; backward: B1, then dW, db per layer and
        # dA, δ below every layer but the first
        assert len(d.forward) == 2 * L - 1 + 2
        assert len(d.backward) == 1 + 2 * L + 2 * (L - 1)
        keys = [r.key for r in d.backward]
        assert keys[0] == f"d{L}" and keys[-2:] == ["dW1", "db1"]
        assert all(("2\\lambda" in r.eq.tex) == bool(l2) for r in d.backward if r.key.startswith("dW"))
        for fmt in ("text", "markdown", "latex"):
            assert d.render(fmt)


def test_references_name_real_sections_and_functions():
    d = derivation([3, 10, 6, 3], ["relu", "tanh"], l2=0.01)
    rows = d.forward + d.backward
    for out in ("logistic", "identity", "exp", "huber"):
        rows += derivation([3, 4, 2], "sigmoid", output=out, l2=0.1).forward
        rows += derivation([3, 4, 2], "leaky_relu", output=out).backward
    rows += derivation([3, 4, 2], "identity").backward
    for r in rows:
        for sec in re.findall(r"§(\d+(?:\.\d+)?)", r.refs):
            assert re.search(rf"^##+ {re.escape(sec)}\.? ", DOC, re.M), (r.label, sec)
        for eq in re.findall(r"(\d+\.\d+)(?=[,;-]|$)", r.refs.split("eq.", 1)[-1]):
            assert f"({eq})" in DOC, (r.label, eq)
        for f in r.funcs:
            module, name = f.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(module), name)), f


def test_regression_heads_state_their_own_loss_and_gradient():
    """Each regression head's loss and δ_L as §12–§14 write them, and nothing of the softmax
    head's: no (P − Y) where the output is μ or the gradient a clipped residual."""
    docs = {out: derive([3, 4, 2], "tanh", output=out, huber_delta=0.25, format="markdown")
            for out in ("identity", "exp", "huber")}
    rows = {out: table_rows(doc) for out, doc in docs.items()}
    want = {"identity": (r"\mathcal{L}=\frac{1}{2m}\sum_{i,k}(Z_{2,ik}-Y_{ik})^2",
                         r"\delta_2=\frac{1}{m}(P-Y)"),
            "exp": (r"\mathcal{L}=\frac{1}{m}\sum_{i,k}\big[e^{Z_{2,ik}}-Y_{ik}Z_{2,ik}"
                    r"+Y_{ik}\logY_{ik}-Y_{ik}\big]", r"\delta_2=\frac{1}{m}(\mu-Y)"),
            "huber": (r"\mathcal{L}=\frac{1}{m}\sum_{i,k}h_\delta(Z_{2,ik}-Y_{ik})",
                      r"\delta_2=\frac{1}{m}\operatorname{clip}(Z_2-Y,-\delta,\delta)")}
    for out, (loss, grad) in want.items():
        assert norm_eq(rows[out]["F5"][0]) == loss and norm_eq(rows[out]["B1"][0]) == grad, out
    assert "\\delta = 0.25" in docs["huber"] and "0.25" not in docs["identity"]
    for out in ("identity", "exp", "huber"):
        text = derive([3, 4, 2], "tanh", output=out)
        assert "With one-hot Y" not in text, out  # the softmax slip's equations are not shown
        assert ("(1/m)(P − Y)" in text) == (out == "identity"), out
    titles = [s.title for s in derivation([3, 4, 2], "tanh", output="huber").slips]
    assert "The Huber gradient without its clip" in titles
    assert not any("clip" in s.title for s in derivation([3, 4, 2], "tanh", output="identity").slips)


def test_model_network_derives_with_its_own_weights():
    net = hg.MLP([4, 6, 3], activation="tanh", l2=0.02, seed=3)
    d = derive_network(net, numbers=True, format="text")
    assert "tanh" in d and "λ = 0.02" in d
    W1 = net.weights[0].astype(np.float64)
    from handgrad.derive import derivation_of
    assert np.array_equal(derivation_of(net, numbers=True).step.weights[0], W1)


@pytest.mark.parametrize("call, words", [
    (lambda: derive([3], "relu"), "sizes"),
    (lambda: derive([3, 0, 2], "relu"), "width"),
    (lambda: derive([3, 4, 2], "swish"), "unknown activation"),
    (lambda: derive([3, 4, 2], "relu", batch=0), "batch"),
    (lambda: derive([3, 4, 2], "relu", batch=2.5), "batch"),
    (lambda: derive([3, 4, 2], "relu", output="poisson"), "output"),
    (lambda: derive([3, 4, 2], "relu", format="html"), "format"),
    (lambda: derive([3, 4, 2], "relu", l2=-1), "l2"),
    (lambda: derive([3, 4, 2], ["relu", "tanh"]), "activations"),
])
def test_bad_input_is_one_line(call, words):
    with pytest.raises(InputError) as err:
        call()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_custom_activation_refused():
    act = hg.register_activation("derive_softsign", lambda z: z / (1 + np.abs(z)),
                                 lambda z: 1 / (1 + np.abs(z)) ** 2, overwrite=True)
    try:
        with pytest.raises(InputError, match="custom activation"):
            derive_network(hg.MLP([3, 4, 2], activation=act))
    finally:
        hg.unregister_activation("derive_softsign")


def test_cli(tmp_path, capsys):
    from handgrad.cli.main import main

    assert main(["derive", "--numbers"]) == 0
    out = capsys.readouterr().out
    assert "3 → 10 → 6 → 3" in out and out.count(": passes.") == 6 and "FAILS" not in out

    model = hg.Model(hg.MLP([3, 5, 2], activation="sigmoid", l2=0.001), classes=np.array([0, 1]))
    path = hg.save_model(model, tmp_path / "m.safetensors")
    assert main(["derive", str(path), "--format", "markdown", "--numbers"]) == 0
    out = capsys.readouterr().out
    assert "m.safetensors" in out and "\\sigma(Z_1)" in out

    assert main(["derive", str(path), "--sizes", "3", "4", "2"]) == 2
    assert "one or the other" in capsys.readouterr().err
    assert main(["derive", "--batch", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch" in err
    assert main(["derive", "--activation", "nope"]) == 2
    capsys.readouterr()

    assert main(["derive", "--output", "huber", "--huber-delta", "0.3", "--sizes", "3", "5", "2",
                 "--numbers"]) == 0
    out = capsys.readouterr().out
    assert "huber, δ = 0.3" in out and "δ = 0.3" in out and out.count(": passes.") == 4
    assert "FAILS" not in out and "The Huber gradient without its clip" in out
    assert main(["derive", "--huber-delta", "0.3"]) == 2
    assert "--output huber" in capsys.readouterr().err
    assert main(["derive", "--output", "huber", "--huber-delta", "0"]) == 2
    assert re.search(r"huber.delta must be a finite number > 0", capsys.readouterr().err)
    assert main(["derive", str(path), "--huber-delta", "2"]) == 2
    assert "one or the other" in capsys.readouterr().err


def test_cli_model_file_with_custom_activation(tmp_path, capsys):
    from handgrad.cli.main import main

    act = hg.register_activation("derive_cube", lambda z: z ** 3, lambda z: 3 * z ** 2, overwrite=True)
    try:
        model = hg.Model(hg.MLP([3, 4, 2], activation=act), classes=np.array([0, 1]))
        path = hg.save_model(model, tmp_path / "c.safetensors")
        assert main(["derive", str(path)]) == 2
        assert "custom activation" in capsys.readouterr().err
    finally:
        hg.unregister_activation("derive_cube")
    assert main(["derive", str(path)]) == 2  # unregistered: the file cannot even be read
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "register" in err
