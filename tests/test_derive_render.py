"""handgrad derive renders: Markdown whose math GitHub renders, text within 80 columns, and
LaTeX that is a standalone ASCII document (compiled when a TeX engine is installed)."""

import re
import shutil
import subprocess
import unicodedata

import pytest

from handgrad.derive import derivation

NETWORKS = [([3, 10, 6, 3], "relu", "softmax", 0.01),
            ([12, 11, 2], "leaky_relu(alpha=0.25)", "logistic", 0.5),
            ([3, 4, 4, 4, 4, 4, 3], "sigmoid", "identity", 0.0),
            ([2, 16, 1], "tanh", "exp", 1e-4),
            ([7, 3], "identity", "softmax", 0.0),
            ([4, 5, 3], "relu", "huber", 0.02)]


@pytest.fixture(scope="module", params=NETWORKS, ids=lambda n: f"{n[2]}-{len(n[0]) - 1}")
def doc(request):
    sizes, act, output, l2 = request.param
    return derivation(sizes, act, output=output, l2=l2, batch=3, numbers=True)


def width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else
               0 if unicodedata.combining(ch) else 1 for ch in line)


def test_text_fits_80_columns(doc):
    text = doc.render("text")
    for line in text.splitlines():
        assert width(line) <= 80, line


def _math_spans(line: str):
    """Inline math spans of a Markdown line (outside code spans), with their surroundings."""
    line = re.sub(r"`[^`]*`", "``", line)
    line = line.replace("\\$", "")
    assert line.count("$") % 2 == 0, f"unpaired $ in: {line}"
    return [(m.group(1), line[m.start() - 1] if m.start() else " ",
             line[m.end()] if m.end() < len(line) else " ")
            for m in re.finditer(r"\$([^$]+)\$", line)]


def check_tex(tex: str, where: str):
    """What GitHub's Markdown does to math before MathJax sees it (docs/derivations.md follows
    the same rules)."""
    assert tex == tex.strip(), f"space inside the $ of {where}"
    assert not re.search(r"\\[{}|,;:!\\]", tex), f"markdown eats the backslash in {where}"
    assert "|" not in tex and "<" not in tex and "*" not in tex, where
    for m in re.finditer(r"_", tex):
        assert tex[m.start() - 1].isalnum(), f"_ after {tex[m.start() - 1]!r} in {where}"
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, where
    assert depth == 0, f"unbalanced braces in {where}"
    assert tex.count("\\left") == tex.count("\\right"), where


def test_markdown_math_follows_githubs_rules(doc):
    md = doc.render("markdown")
    in_code = False
    for line in md.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if line.startswith("$$"):  # display math: alone on its line, blank lines around
            assert line.endswith("$$") and line.count("$$") == 2, line
            check_tex(line[2:-2], line)
            continue
        for tex, before, after in _math_spans(line):
            check_tex(tex, line)
            assert not before.isalnum() and not after.isalnum(), f"$ touching a letter: {line}"
        if line.startswith("|"):
            cells = line.strip("|").split("|")
            assert len([c for c in re.sub(r"\\\|", "", line).strip("|").split("|")]) == 6, line
            assert cells
    assert not in_code
    assert md.count("\n$$") == md.count("$$\n")
    for m in re.finditer(r"\n\$\$.*\$\$\n", md):
        assert md[m.start() - 1] == "\n" and md[m.end()] == "\n", "display math needs blank lines"


def test_markdown_prose_has_no_stray_emphasis(doc):
    md = doc.render("markdown")
    prose = re.sub(r"```.*?```", "", md, flags=re.S)
    prose = re.sub(r"\$\$.*?\$\$|`[^`]*`|\$[^$]*\$", "", prose)
    assert not re.search(r"(?<!\\)[*_]", prose)


def test_latex_is_a_standalone_ascii_document(doc):
    tex = doc.render("latex")
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    assert tex.isascii()
    assert tex.count("\\begin{") == tex.count("\\end{")


ENGINES = [e for e in ("pdflatex", "xelatex", "lualatex", "tectonic") if shutil.which(e)]


@pytest.mark.skipif(not ENGINES, reason="no TeX engine installed (pdflatex, xelatex, lualatex, tectonic)")
def test_latex_compiles(doc, tmp_path):
    (tmp_path / "d.tex").write_text(doc.render("latex"))
    engine = ENGINES[0]
    cmd = [engine, "d.tex"] if engine == "tectonic" else [engine, "-interaction=nonstopmode",
                                                           "-halt-on-error", "d.tex"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "d.pdf").exists()
