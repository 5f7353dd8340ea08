"""Check a learner's own backward pass: every gradient array against the reference, and the
slip that explains each one that is wrong (docs/check.md).

    import handgrad as hg
    result = hg.check_backprop(backprop, sizes=[3, 10, 6, 3], activation="relu", l2=0.01)
    print(result)            # per array ✓/✗, the slips by layer, the verdict
    result.passed, result.to_dict()

``handgrad check FILE.py[:FUNCTION] --sizes 3 10 6 3`` runs the same from the shell (exit 0:
every array matches; 1: one does not; 2: the function could not be called).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from .diagnose import RTOL, diagnose
from .problem import CONVENTIONS, OUTPUTS, SubmissionError, call, load_function, make_problem
from .slips import CATALOGUE, gradients

__all__ = ["check_backprop", "CheckResult", "SubmissionError", "load_function"]


@dataclass
class CheckResult:
    """What :func:`check_backprop` found: per array (worst over the trials) whether it matches
    and its relative error; the slips, from the output back (layer, name, array or None);
    the first layer no known slip explains (None: every wrong array is explained)."""

    function: str
    settings: dict
    arrays: list[dict]
    slips: list[tuple]
    unexplained: int | None
    trials: int
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(a["matches"] for a in self.arrays)

    def to_dict(self) -> dict:
        return {"function": self.function, "settings": self.settings, "passed": self.passed,
                "tolerance": RTOL, "trials": self.trials, "arrays": self.arrays,
                "slips": [{"layer": k, "slip": name, "array": None if which is None else f"d{which}{k}",
                           "what": CATALOGUE[name][0], "wrong": CATALOGUE[name][1], "right": CATALOGUE[name][2]}
                          for k, name, which in self.slips],
                "unexplained_from_layer": self.unexplained}

    def _repr_pretty_(self, p, cycle) -> None:  # IPython and Jupyter show the report, not the fields
        p.text(str(self))

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"

    def __str__(self) -> str:
        s = self.settings
        acts = ", ".join(dict.fromkeys(s["activation"])) if s["activation"] else "no hidden layer"
        lines = [f"check of {self.function}: {' → '.join(map(str, s['sizes']))}, {acts}, {s['output']} output, "
                 f"λ = {s['l2']:g}, {s['convention']} convention; {self.trials} random batches of {s['batch']}",
                 "  " + "   ".join(f"{a['array']} {'✓' if a['matches'] else '✗'}"
                                  + ("" if a["matches"] else f" ({a['relative_error']:.2g} off)")
                                  for a in self.arrays)]
        if self.passed:
            lines.append(f"every array matches the reference (relative error ≤ {RTOL:g}): the backward pass is right")
            return "\n".join(lines)
        if self.slips:
            lines.append("slips found, from the output back:")
            groups: dict = {}  # one slip made in several layers is said once, with its layers
            for k, name, which in self.slips:
                groups.setdefault((name, which), []).append(k)
            for (name, which), layers in groups.items():
                what, wrong, right = CATALOGUE[name]
                where = (f"layer{'s' if len(layers) > 1 else ''} {', '.join(map(str, layers))}"
                         + (f", d{which} only" if which else ""))
                inherit = " — every layer below inherits it" if which is None and min(layers) > 1 else ""
                lines += [f"  {where}: {what}{inherit}", f"      yours: {wrong}", f"      right: {right}"]
        if self.unexplained is not None:
            lines.append(f"  layer {self.unexplained}: "
                         + ("beyond the slips above, " if self.slips else "")
                         + f"dW{self.unexplained}/db{self.unexplained} depart from the reference and none of the "
                         "known slips explains it; the layers above are right"
                         + (" (given those slips)" if self.slips else "")
                         + f", so look at how δ{self.unexplained}, dW{self.unexplained} and db{self.unexplained} "
                         "are computed")
        wrong = sum(not a["matches"] for a in self.arrays)
        lines += [*self.notes, f"verdict: {wrong} of {len(self.arrays)} arrays wrong"]
        return "\n".join(lines)


def check_backprop(fn, sizes, *, activation="relu", output: str = "softmax", l2: float = 0.0,
                   convention: str = "row", batch: int = 5, seed: int = 0, trials: int = 3,
                   name: str | None = None) -> CheckResult:
    """Grade ``fn(X, Y, weights, biases, l2) -> (dW, db)`` (the contract of docs/check.md, in
    ``convention`` "row" or "column") on ``trials`` random problems of ``sizes`` (n₀, …, n_L)
    with the hidden ``activation`` (one name, or one per hidden layer), the ``output`` head
    ("softmax", "logistic", "identity") and the L2 strength ``l2``; a batch of ``batch`` rows
    each. Several problems, so that a slip that hides on one (a ReLU mask that happens to be all
    ones) shows on another. Raises :class:`SubmissionError` when ``fn`` raises or returns the
    wrong number, shapes or values of arrays."""
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise InputError(f"sizes must list at least the inputs and the outputs, each ≥ 1, got {sizes}")
    if output not in OUTPUTS:
        raise InputError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be row or column, got {convention!r}")
    if output == "softmax" and sizes[-1] < 2:
        raise InputError("a softmax output needs at least 2 classes (sizes[-1] ≥ 2)")
    if not (l2 >= 0) or int(batch) < 1 or int(trials) < 1:
        raise InputError(f"l2 must be ≥ 0 and batch, trials ≥ 1; got l2={l2}, batch={batch}, trials={trials}")
    where = name or getattr(fn, "__name__", "the function")
    problems = [make_problem(sizes, activation, output, l2, int(batch) + t, seed + t) for t in range(int(trials))]
    found, unexplained, worst = set(), None, {}
    for p in problems:
        dW, db = call(fn, p, convention, where)
        d = diagnose(p, dW, db)
        for a in d["arrays"]:
            old = worst.get(a["array"])
            if old is None or a["relative_error"] > old["relative_error"]:
                worst[a["array"]] = a
        found |= set(d["slips"])
        if d["unexplained"] is not None:
            unexplained = max(unexplained or 0, d["unexplained"])
    arrays = [{**a, "matches": all(w["matches"] for w in worst.values() if w["array"] == a["array"])}
              for a in worst.values()]
    notes = []
    if found and unexplained is None and not _consistent(problems, found, fn, convention, where):
        notes.append("note: the slips named explain each batch, but not all batches at once: read them as the "
                     "likeliest, not as certain")
    acts = [a.name for a in problems[0].activations]
    settings = {"sizes": sizes, "activation": acts, "output": output, "l2": float(l2), "convention": convention,
                "batch": int(batch), "seed": int(seed)}
    return CheckResult(where, settings, arrays, sorted(found, key=lambda s: (-s[0], s[1])), unexplained,
                       int(trials), notes)


def _consistent(problems, found, fn, convention, where) -> bool:
    """Whether the slips found, all made at once, give the learner's arrays on every problem."""
    from .diagnose import close

    for p in problems:
        dW, db = call(fn, p, convention, where)
        gW, gb = gradients(p, frozenset(found))
        if not all(close(a, b) for a, b in zip(dW + db, gW + gb)):
            return False
    return True
