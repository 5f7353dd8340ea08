"""The package's layers (docs/architecture.md): imports run one way, no cycles, the reference
math imports no performance code, modules stay small, old import paths still work."""

import ast
import importlib
from pathlib import Path

import pytest

import handgrad

SRC = Path(handgrad.__file__).parent

# Lower layers first; a module may import its own layer and the ones before it, never after.
LAYERS = [
    ("handgrad._version", "handgrad.errors", "handgrad._compat"),
    ("handgrad.memory_plan", "handgrad.arrays", "handgrad.validation", "handgrad.atomic", "handgrad.layout", "handgrad.signals"),
    ("handgrad.core",),
    ("handgrad.fast",),
    ("handgrad.network", "handgrad.data"),
    ("handgrad.gradcheck", "handgrad.training", "handgrad.distributed"),  # distributed: fit's data_parallel
    ("handgrad.derive", "handgrad.check"),  # use core, network and gradcheck; cli uses them
    ("handgrad.model",),
    ("handgrad.cli", "handgrad.sklearn", "handgrad.export"),
    ("handgrad.__init__", "handgrad.__main__"),
]
MAX_LINES = 320  # "~300": a module past this must say why in a line starting "# size:"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts)


def layer_of(name: str) -> int:
    for i, names in enumerate(LAYERS):
        if any(name == n or name.startswith(n + ".") for n in names):
            return i
    raise AssertionError(f"{name} is in no layer of this test; add it to LAYERS")


def imports(path: Path) -> set[str]:
    """handgrad modules imported anywhere in the file (also inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("handgrad"):
                for alias in node.names:  # "from . import x" may name a module
                    sub = f"{target}.{alias.name}"
                    found.add(sub if _is_module(sub) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("handgrad")}
    return {t for t in found if t != "handgrad"} | ({"handgrad.__init__"} if "handgrad" in found else set())


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists()


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_is_in_a_layer():
    for path in MODULES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_run_one_way(path):
    me = module_name(path)
    for target in imports(path):
        if target == "handgrad._compat" and me == "handgrad.__init__":
            continue
        assert layer_of(target) <= layer_of(me), f"{me} imports {target}, a higher layer"


def test_the_reference_math_imports_no_performance_code():
    for path in (SRC / "core").glob("*.py"):
        for target in imports(path):
            assert target.startswith("handgrad.core") or target == "handgrad.errors", \
                f"{module_name(path)} imports {target}: core/ is plain numpy and its own layer"


def test_no_import_cycles():
    graph = {module_name(p): {t for t in imports(p) if t != "handgrad.__init__"} for p in MODULES}
    # a package's __init__ is its own node: "handgrad.core" means handgrad/core/__init__.py
    graph = {k.removesuffix(".__init__"): v for k, v in graph.items()}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt in graph and state.get(nxt) is None:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node, [node])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_modules_stay_small(path):
    text = path.read_text()
    n = text.count("\n")
    assert n <= MAX_LINES or "\n# size:" in text, \
        f"{module_name(path)} has {n} lines; split it or state why in a '# size:' comment"


@pytest.mark.parametrize("old, new, name", [
    ("handgrad.losses", "handgrad.core.losses", "softmax_cross_entropy"),
    ("handgrad.activations", "handgrad.core.activations", "register_activation"),
    ("handgrad.train", "handgrad.training.loop", "Callback"),
    ("handgrad.optim", "handgrad.training.optim", "make_schedule"),
    ("handgrad.io", "handgrad.model.files", "load_model"),
    ("handgrad.workspace", "handgrad.fast.memory", "Workspace"),
    ("handgrad.plots", "handgrad.cli.plots", "plot_learning_curves"),
    ("handgrad.mnist", "handgrad.data.mnist", "load_mnist"),
])
def test_old_module_paths_still_import(old, new, name):
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    assert old_mod is new_mod and getattr(old_mod, name) is getattr(new_mod, name)
    assert new_mod.__spec__.name == new  # the real module keeps its own spec


def test_architecture_doc_quotes_the_recursion_as_it_is():
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    block = doc.split("```python\n", 1)[1].split("```", 1)[0]
    code = (SRC / "core" / "backprop.py").read_text()
    for line in block.strip().splitlines():
        assert line.strip() in code, f"docs/architecture.md quotes a line backprop.py lacks: {line!r}"
