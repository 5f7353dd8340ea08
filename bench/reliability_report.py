"""Write docs/reliability.md's counts of the adversarial suite from a run of it, never by hand.

    python bench/reliability_report.py            # run tests/adversarial, then rewrite the counts
    python bench/reliability_report.py --whole    # also run the whole suite for its totals

It runs ``pytest tests/adversarial`` with a JUnit XML report and rewrites, in
docs/reliability.md's section 4, the "Latest run" paragraph (between the markers
``<!-- adversarial-run -->`` and ``<!-- /adversarial-run -->``) and the ``cases`` cell of each
file's row of the table. A *case* is one hostile input with its asserted outcome: a test
parametrized by a case (``test_case[...]``, ``test_case_on_a_small_machine[...]``, ...) or a
scenario written as a test of its own; the checks that the case lists are distinct are tests
but not cases. ``tests/test_reliability_doc.py`` checks in every run of the suite that the
counts written equal the cases collected, so they cannot drift.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- adversarial-run -->", "<!-- /adversarial-run -->"


def is_case(name: str) -> bool:
    """A test that is a case (not a check of the case lists themselves)."""
    return "distinct" not in name and "enough" not in name


def junit_counts(xml: Path) -> tuple[Counter, Counter, Counter]:
    """(tests per file, cases per file, outcomes over all) of a JUnit XML report."""
    tests, cases, outcomes = Counter(), Counter(), Counter()
    for tc in ET.parse(xml).getroot().iter("testcase"):
        # classname: the dotted module path (tests.adversarial.test_round3_doors)
        file = tc.get("classname", "?").split(".")[-1] + ".py"
        tests[file] += 1
        if is_case(tc.get("name", "")):
            cases[file] += 1
        kids = {c.tag for c in tc}
        outcomes["failed" if kids & {"failure", "error"} else "skipped" if "skipped" in kids else "passed"] += 1
    return tests, cases, outcomes


def run(paths: list[str]) -> tuple[Counter, Counter, Counter, int]:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "run.xml"
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               f"--junitxml={xml}", *paths], cwd=ROOT)
        return (*junit_counts(xml), done.returncode)


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def rewrite(text: str, cases: Counter, tests: Counter, outcomes: Counter, whole: Counter | None) -> str:
    import numpy

    n_cases, n_tests = sum(cases.values()), sum(tests.values())
    status = ("all passing" if outcomes["failed"] == 0
              else f"{outcomes['failed']} failing")
    line = (f"Latest run: {dt.date.today().isoformat()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, numpy {numpy.__version__}, handgrad at git `{git_head()}` "
            f"(`python bench/reliability_report.py`): **{n_tests} tests, {n_cases} of them cases**, "
            f"{status}")
    if whole is not None:
        line += (f"; the whole suite {whole['passed']:,} passed, {whole['failed']:,} failed, "
                 f"{whole['skipped']:,} skipped")
    block = f"{START}\n{line}.\n{END}"
    if START not in text:
        raise SystemExit(f"{DOC} has no {START} … {END} block to rewrite")
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    for file, n in cases.items():  # the table row of each file: | class | `file` | cases | ... |
        text = re.sub(rf"(\| [^|\n]+ \| `{re.escape(file)}` \| )\d+( \|)", rf"\g<1>{n}\g<2>", text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--whole", action="store_true", help="also run the whole suite for its totals")
    args = ap.parse_args()
    tests, cases, outcomes, status = run(["tests/adversarial"])
    whole = run(["tests"])[2] if args.whole else None
    DOC.write_text(rewrite(DOC.read_text(), cases, tests, outcomes, whole))
    print(f"{sum(tests.values())} tests, {sum(cases.values())} cases: {dict(outcomes)}; {DOC} rewritten")
    return status


if __name__ == "__main__":
    sys.exit(main())
