"""Run scikit-learn's own MLPClassifier examples with one import changed to handgrad's.

Usage::

    python bench/sklearn_example.py [--sdist scikit_learn-1.9.1.tar.gz] [--out bench/results]

The drop-in promise of :mod:`handgrad.sklearn`: an existing scikit-learn program runs
unchanged except for the line ``from sklearn.neural_network import MLPClassifier``, which
becomes ``from handgrad.sklearn import MLPClassifier``. This script takes the examples from
the source distribution of the installed scikit-learn (downloaded from PyPI into
``~/.cache/handgrad`` unless ``--sdist`` names it; the examples are not copied into this
repository) and runs each one twice in a fresh interpreter: as published, and with that one
line swapped (the script checks that exactly one line differs). Both runs use the Agg
backend; ``plt.show()`` is then a no-op and the runner saves the figures afterwards.

Recorded per example: what it printed (compared line by line), every ``score`` it computed
and every ``loss_`` / ``n_iter_`` of a fitted estimator (collected by wrapping the class's
methods from outside the script), the total time spent inside ``MLPClassifier.fit``, and
the figures (``<example>-scikit-learn.png`` / ``<example>-handgrad.png``) and the warnings
each run printed. (``plot_mlp_training_curves.py`` silences ConvergenceWarning with
``filterwarnings(..., module="sklearn")``; handgrad's warnings come from
``handgrad.sklearn._base``, which that filter does not match, so they are printed.)

Examples: ``plot_mlp_training_curves.py`` (SGD with constant / invscaling learning rates,
momentum and Nesterov, and Adam on iris, digits, circles and moons) and
``plot_mlp_alpha.py`` (L-BFGS at five alphas inside a Pipeline with a StandardScaler, decision
surfaces from predict_proba). ``plot_mnist_filters.py`` needs OpenML (fetch_openml), which
this machine cannot reach, so it is not run. BLAS is limited to one thread in both runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import sklearn

EXAMPLES = ("plot_mlp_training_curves.py", "plot_mlp_alpha.py")
SK_IMPORT = "from sklearn.neural_network import MLPClassifier"
HG_IMPORT = "from handgrad.sklearn import MLPClassifier"

# Runs inside the child interpreter: wraps the estimator class (from outside the example),
# runs the example file, saves its figures, and prints one JSON line after a marker.
RUNNER = r"""
import json, runpy, sys, time
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from threadpoolctl import threadpool_limits
library, script, png = sys.argv[1:4]
if library == "handgrad":
    from handgrad.sklearn import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
log = {"fit_seconds": 0.0, "fits": [], "scores": []}
fit, score = MLPClassifier.fit, MLPClassifier.score
def timed_fit(self, *a, **k):
    t0 = time.perf_counter()
    out = fit(self, *a, **k)
    log["fit_seconds"] += time.perf_counter() - t0
    log["fits"].append({"solver": self.solver, "n_iter": int(self.n_iter_), "loss": float(self.loss_)})
    return out
def logged_score(self, *a, **k):
    s = score(self, *a, **k)
    log["scores"].append(float(s))
    return s
MLPClassifier.fit, MLPClassifier.score = timed_fit, logged_score
with threadpool_limits(1):
    runpy.run_path(script, run_name="__main__")
for i, num in enumerate(plt.get_fignums()):
    plt.figure(num).savefig(png if i == 0 else png.replace(".png", f"-{i + 1}.png"), dpi=60)
print("\n@@RUNNER@@" + json.dumps(log))
"""


def sdist_path(given: str | None) -> Path:
    if given:
        return Path(given)
    version = sklearn.__version__
    cache = Path.home() / ".cache" / "handgrad"
    path = cache / f"scikit_learn-{version}.tar.gz"
    if not path.exists():
        # PyPI's simple index (what pip reads): the sdist's link carries its sha256
        with urllib.request.urlopen("https://pypi.org/simple/scikit-learn/") as r:
            index = r.read().decode()
        found = re.search(rf'href="([^"]*/{re.escape(path.name)})#sha256=([0-9a-f]{{64}})"', index)
        if found is None:
            raise SystemExit(f"{path.name} is not on PyPI's simple index; give --sdist")
        url, digest = found.groups()
        with urllib.request.urlopen(url) as r:
            data = r.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise SystemExit(f"{url}: the download does not match the index's sha256")
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def extract(sdist: Path, name: str, into: Path) -> Path:
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers()
                      if m.name.endswith(f"examples/neural_networks/{name}"))
        text = tar.extractfile(member).read().decode()
    path = into / name
    path.write_text(text)
    return path


def swapped(original: Path) -> Path:
    lines = original.read_text().splitlines(keepends=True)
    changed = [line.replace(SK_IMPORT, HG_IMPORT) if line.strip() == SK_IMPORT else line
               for line in lines]
    if sum(a != b for a, b in zip(lines, changed)) != 1:
        raise SystemExit(f"{original.name}: expected exactly one line '{SK_IMPORT}'")
    path = original.with_name(original.stem + "_handgrad.py")
    path.write_text("".join(changed))
    return path


def run(library: str, script: Path, png: Path) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", RUNNER, library, str(script), str(png)],
                          capture_output=True, text=True, cwd=script.parent, env=env, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{script.name} ({library}) failed:\n{proc.stderr}")
    printed, _, log = proc.stdout.rpartition("\n@@RUNNER@@")
    return {**json.loads(log), "stdout": printed, "stderr": proc.stderr}


def report(results: dict) -> str:
    lines = ["# scikit-learn's MLPClassifier examples, with one import changed to handgrad's", "",
             f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
             f"- scikit-learn {sklearn.__version__}: the examples from its source distribution, "
             f"run unchanged except `{SK_IMPORT}` → `{HG_IMPORT}`; BLAS on one thread in both.",
             "- Produced by `python bench/sklearn_example.py`.", ""]
    for name, r in results.items():
        sk, hg = r["scikit-learn"], r["handgrad"]
        same_out = sk["stdout"] == hg["stdout"]
        lines += [f"## {name}", "",
                  f"- Printed output identical: **{'yes' if same_out else 'no'}** "
                  f"({len(sk['stdout'].splitlines())} lines).",
                  f"- Scores computed: {len(sk['scores'])}; identical: "
                  f"{sum(a == b for a, b in zip(sk['scores'], hg['scores']))}; largest |Δ|: "
                  f"{max((abs(a - b) for a, b in zip(sk['scores'], hg['scores'])), default=0):.2g}.",
                  f"- Fits: {len(sk['fits'])}; equal n_iter_: "
                  f"{sum(a['n_iter'] == b['n_iter'] for a, b in zip(sk['fits'], hg['fits']))}; "
                  f"largest |Δ loss_|: "
                  f"{max((abs(a['loss'] - b['loss']) for a, b in zip(sk['fits'], hg['fits'])), default=0):.2g}.",
                  f"- Time inside `MLPClassifier.fit`: scikit-learn {sk['fit_seconds']:.2f} s, "
                  f"handgrad {hg['fit_seconds']:.2f} s (ratio {hg['fit_seconds'] / sk['fit_seconds']:.2f}; "
                  "one run each, so only indicative — bench/sklearn_parity.py measures speed).",
                  f"- Figures: `{name[:-3]}-scikit-learn.png`, `{name[:-3]}-handgrad.png`.", ""]
        if not same_out:
            lines += ["| line | scikit-learn | handgrad |", "|---|---|---|"]
            for i, (a, b) in enumerate(zip(sk["stdout"].splitlines(), hg["stdout"].splitlines())):
                if a != b:
                    lines.append(f"| {i + 1} | `{a}` | `{b}` |")
            lines.append("")
        for lib in ("scikit-learn", "handgrad"):
            warned = [w for w in r[lib]["stderr"].splitlines() if "Warning: " in w]
            kinds = sorted({w.split("Warning: ")[0].rsplit(" ", 1)[-1] + "Warning" for w in warned})
            lines.append(f"- Warnings on stderr ({lib}): {len(warned)}"
                         + (f" ({', '.join(kinds)})" if kinds else "") + ".")
            if warned:
                lines += ["", "```", *sorted(set(warned))[:5], "```"]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", help="scikit-learn's source distribution (.tar.gz)")
    parser.add_argument("--out", default="bench/results", help="results directory")
    args = parser.parse_args()
    out = Path(args.out).resolve() / "sklearn_example"
    out.mkdir(parents=True, exist_ok=True)
    sdist = sdist_path(args.sdist)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in EXAMPLES:
            original = extract(sdist, name, Path(tmp))
            results[name] = {
                "scikit-learn": run("scikit-learn", original, out / f"{name[:-3]}-scikit-learn.png"),
                "handgrad": run("handgrad", swapped(original), out / f"{name[:-3]}-handgrad.png")}
            print(f"{name}: done", file=sys.stderr)
    (out / "README.md").write_text(report(results))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
