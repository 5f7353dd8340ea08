"""The document's blocks written out as Markdown (GitHub math), standalone LaTeX, or text
that fits an 80-column terminal.

A block is a heading, a paragraph, a display equation, a table of equation rows, a labelled
array or a list; the text inside them is a tuple of segments: ``str`` (prose), :class:`M`
(math, both spellings) and :class:`Code`. Adjacent math segments are merged into one span,
so Markdown never meets ``$…$$…$`` (which it would read as display math).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np

from .equations import Eq
from .notation import Code, M

WIDTH = 80


@dataclass
class Heading:
    level: int
    text: tuple


@dataclass
class Para:
    text: tuple


@dataclass
class Display:
    math: M


@dataclass
class Table:
    rows: list[Eq]


@dataclass
class Array:
    label: str
    name: M
    value: object


@dataclass
class Bullets:
    items: list[tuple]


@dataclass
class Commands:
    lines: list[str]


def _merge(segments) -> list:
    """Consecutive math segments joined into one; empty ones dropped."""
    out: list = []
    for s in segments:
        if isinstance(s, M):
            if not s.tex and not s.txt:
                continue
            if out and isinstance(out[-1], M):
                out[-1] = M(out[-1].tex + " " + s.tex, out[-1].txt + s.txt)
                continue
        elif s == "":
            continue
        out.append(s)
    return out


def format_array(value) -> str:
    """An array rounded to 4 decimals, lines within 76 columns; big arrays summarised."""
    a = np.asarray(value)
    if a.dtype.kind in "iu":
        return np.array2string(a, max_line_width=76, threshold=200, edgeitems=3)
    return np.array2string(a, precision=4, suppress_small=True, floatmode="fixed",
                           max_line_width=76, threshold=200, edgeitems=3)


# ---- Markdown ---------------------------------------------------------------------------

_MD_ESCAPE = re.compile(r"([\\`*_|<>$\[\]])")


def _md(segments) -> str:
    parts = []
    for s in _merge(segments):
        if isinstance(s, M):
            parts.append(f"${s.tex}$")
        elif isinstance(s, Code):
            parts.append(f"`{s.text}`")
        else:
            parts.append(_MD_ESCAPE.sub(r"\\\1", s))
    return "".join(parts)


def _funcs(row: Eq) -> list[str]:
    return [f.removeprefix("handgrad.") for f in row.funcs]


def markdown(blocks) -> str:
    out = []
    for blk in blocks:
        if isinstance(blk, Heading):
            out += ["#" * blk.level + " " + _md(blk.text), ""]
        elif isinstance(blk, Para):
            out += [_md(blk.text), ""]
        elif isinstance(blk, Display):
            out += [f"$${blk.math.tex}$$", ""]
        elif isinstance(blk, Table):
            out += ["| | equation | shape | rule | derivations.md | function |",
                    "|---|---|---|---|---|---|"]
            for r in blk.rows:
                funcs = ", ".join(f"`{f}`" for f in _funcs(r)) or "(none: no operation)"
                out.append(f"| {r.label} | ${r.eq.tex}$ | ${r.shape.tex}$ | {_md(r.rule)} | "
                           f"{_md((r.refs,))} | {funcs} |")
            out.append("")
        elif isinstance(blk, Array):
            out += [_md(((f"{blk.label} " if blk.label else ""), blk.name)) + ":", "", "```text",
                    format_array(blk.value), "```", ""]
        elif isinstance(blk, Bullets):
            out += ["- " + _md(item) for item in blk.items] + [""]
        elif isinstance(blk, Commands):
            out += ["```bash"] + blk.lines + ["```", ""]
    return "\n".join(out).rstrip() + "\n"


# ---- text -------------------------------------------------------------------------------

def _txt(segments) -> str:
    return "".join(s.txt if isinstance(s, M) else s.text if isinstance(s, Code) else s
                   for s in _merge(segments))


def _fill(text: str, indent: str = "", first: str | None = None) -> list[str]:
    first = indent if first is None else first
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=indent,
                         break_long_words=True, break_on_hyphens=False) or [first.rstrip()]


def text(blocks) -> str:
    out = []
    for blk in blocks:
        if isinstance(blk, Heading):
            title = _txt(blk.text)
            lines = _fill(title)
            out += lines + [("=" if blk.level == 1 else "-") * max(map(len, lines)), ""]
        elif isinstance(blk, Para):
            out += _fill(_txt(blk.text)) + [""]
        elif isinstance(blk, Display):
            out += _fill(blk.math.txt, "      ", "    ") + [""]
        elif isinstance(blk, Table):
            for r in blk.rows:
                head, shp = f"{r.label:<4}{r.eq.txt}", r.shape.txt
                if len(head) + len(shp) + 3 <= WIDTH:
                    out.append(head.ljust(WIDTH - len(shp)) + shp if len(head) < 44
                               else f"{head}   {shp}")
                else:
                    out += _fill(r.eq.txt, "      ", f"{r.label:<4}") + _fill(shp, "      ", "    ")
                out += _fill(_txt(r.rule), "    ")
                see = f"see derivations.md {r.refs}"
                if r.funcs:
                    see += "; " + ", ".join(_funcs(r))
                out += _fill(see, "      ", "    ") + [""]
        elif isinstance(blk, Array):
            out += _fill(f"[{blk.label}] {blk.name.txt}" if blk.label else blk.name.txt)
            out += ["  " + ln for ln in format_array(blk.value).splitlines()] + [""]
        elif isinstance(blk, Bullets):
            for item in blk.items:
                out += _fill(_txt(item), "  ", "- ")
            out.append("")
        elif isinstance(blk, Commands):
            out += ["  " + ln for ln in blk.lines] + [""]
    return "\n".join(out).rstrip() + "\n"


# ---- LaTeX ------------------------------------------------------------------------------

_TEX_CHARS = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "$": "\\$", "&": "\\&",
              "#": "\\#", "%": "\\%", "_": "\\_", "^": "\\^{}", "~": "\\~{}", "<": "\\textless{}",
              ">": "\\textgreater{}", "|": "\\textbar{}", "§": "\\S{}", "→": "$\\to$",
              "×": "$\\times$", "—": "---", "–": "--", "·": "$\\cdot$", "≤": "$\\le$", "−": "-",
              "λ": "$\\lambda$", "…": "\\dots{}", "’": "'", "⊙": "$\\odot$", "δ": "$\\delta$",
              "μ": "$\\mu$", "σ": "$\\sigma$", "θ": "$\\theta$", "∂": "$\\partial$",
              "Σ": "$\\Sigma$", "‖": "$\\Vert$", "²": "$^2$", "⊘": "$\\oslash$", "±": "$\\pm$"}


def _tex_escape(s: str) -> str:
    return "".join(_TEX_CHARS.get(ch, ch) for ch in s)


def _tex(segments) -> str:
    parts = []
    for s in _merge(segments):
        if isinstance(s, M):
            parts.append(f"${s.tex}$")
        elif isinstance(s, Code):
            parts.append(f"\\texttt{{{_tex_escape(s.text)}}}")
        else:
            parts.append(_tex_escape(s))
    return "".join(parts)


_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath,amssymb}
\usepackage[margin=2cm]{geometry}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\begin{document}
"""


def latex(blocks) -> str:
    out = [_PREAMBLE.rstrip("\n")]
    levels = {1: "section*", 2: "subsection*", 3: "subsubsection*"}
    for blk in blocks:
        if isinstance(blk, Heading):
            out += [f"\\{levels.get(blk.level, 'paragraph')}{{{_tex(blk.text)}}}", ""]
        elif isinstance(blk, Para):
            out += [_tex(blk.text), ""]
        elif isinstance(blk, Display):
            out += ["\\[", blk.math.tex, "\\]", ""]
        elif isinstance(blk, Table):
            out.append("\\begin{description}")
            for r in blk.rows:
                funcs = ", ".join(f"\\texttt{{{_tex_escape(f)}}}" for f in _funcs(r))
                out += [f"\\item[{r.label}] ${r.eq.tex}$ \\hfill ${r.shape.tex}$\\\\",
                        _tex(r.rule) + ".\\\\",
                        f"{{\\small derivations.md {_tex_escape(r.refs)}"
                        + (f"; {funcs}" if funcs else "") + "}"]
            out += ["\\end{description}", ""]
        elif isinstance(blk, Array):
            out += [_tex(((f"{blk.label} " if blk.label else ""), blk.name)) + ":", "\\begin{verbatim}",
                    format_array(blk.value), "\\end{verbatim}", ""]
        elif isinstance(blk, Bullets):
            out += ["\\begin{itemize}"] + [f"\\item {_tex(item)}" for item in blk.items]
            out += ["\\end{itemize}", ""]
        elif isinstance(blk, Commands):
            out += ["\\begin{verbatim}"] + blk.lines + ["\\end{verbatim}", ""]
    out.append("\\end{document}")
    return "\n".join(out) + "\n"


RENDERERS = {"markdown": markdown, "text": text, "latex": latex}
