"""docs/reliability.md's case counts are those of the adversarial suite as it stands: each
file's row states the cases collected from it (bench/reliability_report.py writes them from a
run; this keeps a hand edit or a new case from leaving them stale)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from reliability_report import is_case  # noqa: E402


def collected_cases() -> Counter:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "tests/adversarial"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    cases = Counter()
    for line in out.splitlines():
        if "::" in line:
            path, name = line.split("::", 1)
            if is_case(name.split("[")[0]):
                cases[Path(path).name] += 1
    return cases


def test_the_doc_states_the_cases_of_each_adversarial_file():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    stated = {m.group(1): int(m.group(2)) for m in re.finditer(r"\| [^|\n]+ \| `(test_\w+\.py)` \| (\d+) \|", doc)}
    cases = collected_cases()
    assert stated == dict(cases), "rerun python bench/reliability_report.py to write the counts from a run"
    assert sum(cases.values()) >= 320
    assert "<!-- adversarial-run -->" in doc and "Latest run:" in doc
