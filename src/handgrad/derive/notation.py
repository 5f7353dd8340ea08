"""Each piece of mathematics twice: as LaTeX (Markdown, LaTeX output) and as Unicode text.

A :class:`M` holds the two spellings of one expression; the symbol helpers build them for a
concrete layer number (``Z(2)`` is ``Z_2`` / ``Z₂``), so every equation of a derivation is
written once and rendered in all three formats. The LaTeX side keeps to what GitHub's
Markdown renders: no ``\\{``, ``\\|``, ``\\,`` or ``\\\\`` (Markdown eats the backslash), no
``|`` (it splits a table), no ``<`` (read as an HTML tag), and every ``_`` right after a
letter or digit (a ``_`` after ``}`` or ``)`` can be taken for emphasis).
"""

from __future__ import annotations

from dataclasses import dataclass

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class M:
    """One expression: ``tex`` (LaTeX, without the ``$``) and ``txt`` (Unicode text)."""

    tex: str
    txt: str

    def __add__(self, other: "M | str") -> "M":
        if isinstance(other, str):
            return M(self.tex + other, self.txt + other)
        return M(self.tex + other.tex, self.txt + other.txt)

    def __radd__(self, other: str) -> "M":
        return M(other + self.tex, other + self.txt)


@dataclass(frozen=True)
class Code:
    """A name from the code (a function, a file): monospaced, never math."""

    text: str


def join(*parts: "M | str", sep: str = "") -> M:
    """The parts one after another (plain strings go to both spellings as they are)."""
    out = M("", "")
    for i, p in enumerate(parts):
        out = out + (sep if i else "") + p
    return out


def sub(name: str, l: int) -> M:
    """``name_l``: ``W_3`` / ``W₃`` (braces for several digits)."""
    s = str(l)
    return M(f"{name}_{s}" if len(s) == 1 else f"{name}_{{{s}}}", name + s.translate(_SUB))


def A(l: int) -> M:
    """The activation of layer l; layer 0 is the input X (eq. 1.1)."""
    return M("X", "X") if l == 0 else sub("A", l)


def Z(l: int) -> M:
    return sub("Z", l)


def W(l: int) -> M:
    return sub("W", l)


def b(l: int) -> M:
    return sub("b", l)


def delta(l: int) -> M:
    s = str(l)
    return M(f"\\delta_{s}" if len(s) == 1 else f"\\delta_{{{s}}}", "δ" + s.translate(_SUB))


def T(x: M) -> M:
    """The transpose."""
    return M(f"{x.tex}^{{\\top}}", x.txt + "ᵀ")


def d(x: M) -> M:
    """``∂L/∂x``."""
    return M(f"\\partial\\mathcal{{L}}/\\partial {x.tex}", f"∂L/∂{x.txt}")


def frac_m() -> M:
    return M("\\frac{1}{m}", "(1/m)")


def shape(*dims: int) -> M:
    """A shape: ``(4×3)`` for a matrix, ``(10)`` for a vector."""
    return M("(" + "\\times ".join(map(str, dims)) + ")", "(" + "×".join(map(str, dims)) + ")")


def shapes(*parts: "M | str", result: M) -> M:
    """Operand shapes written side by side (strings are operators), then ``→ result``."""
    return join(*parts) + M(" \\to ", " → ") + result


def number(x: float) -> str:
    """A parameter value as written in the text: ``0.01``, ``1e-05``."""
    return f"{x:g}"
