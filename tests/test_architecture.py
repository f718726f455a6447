"""The house rules, read from the source with `ast`: imports flow down the ladder main.py -> mainscripts ->
models -> samplelib, merger -> facelib -> core (never up, no cycles); no module imports a `_private` name from
another package; the four OpenCV windows share core/window.py."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNGS = {"core": 0, "facelib": 1, "samplelib": 2, "merger": 2, "models": 3, "mainscripts": 4, "main": 5}
TREE_DIRS = (*(name for name in RUNGS if name != "main"), "bench", "tests")
WINDOWS = ("facelib/manual.py", "merger/interactive.py", "mainscripts/xseg_editor.py", "mainscripts/trainer_window.py")
WINDOW_CALLS = {"namedWindow", "destroyWindow", "setMouseCallback", "getWindowProperty"}


def _files() -> list[Path]:
    return [ROOT / "main.py"] + sorted(p for d in TREE_DIRS for p in (ROOT / d).rglob("*.py"))


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    """The package a file belongs to (a package's __init__ belongs to the package itself)."""
    module = _module(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(path: Path, top_level_only: bool = False) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every import in the file (also those inside functions, unless
    `top_level_only`); relative imports are resolved."""
    nodes = _tree(path).body if top_level_only else ast.walk(_tree(path))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = _package(path).split(".")[:len(_package(path).split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            found += [(module, alias.name, node.lineno) for alias in node.names]
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _owner(dotted: str) -> str:
    """The package whose private names are those of `dotted`: itself when it is a package, else its package."""
    return dotted if ROOT.joinpath(*dotted.split(".")).is_dir() else dotted.rpartition(".")[0]


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_imports_flow_down_the_ladder():
    upward = []
    for path in _files():
        mine = _module(path).split(".")[0]
        if mine not in RUNGS:
            continue   # bench/ and tests/ stand above the ladder
        for module, _, line in _imports(path):
            theirs = module.split(".")[0]
            if theirs in RUNGS and theirs != mine and RUNGS[theirs] >= RUNGS[mine]:
                upward.append(f"{_where(path, line)} imports {module}")
    assert not upward, "imports up (or across) the ladder:\n" + "\n".join(upward)


def test_no_import_cycles_between_modules():
    """Module-level imports only: an import inside a function runs later and cannot deadlock loading."""
    graph: dict[str, set[str]] = {}
    for path in _files():
        edges = set()
        for module, name, _ in _imports(path, top_level_only=True):
            if name and _is_module(f"{module}.{name}"):
                module = f"{module}.{name}"
            if _is_module(module) and module.split(".")[0] in (*RUNGS, "bench", "tests"):
                edges.add(module)
        graph[_module(path)] = edges - {_module(path)}
    state: dict[str, int] = {}   # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return trail + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [])
            assert cycle is None, "import cycle: " + " -> ".join(cycle[cycle.index(cycle[-1]):])


def test_no_module_imports_a_private_name_from_another_package():
    """`from pkg.mod import _name` (or a `_module`) only inside pkg, across the whole tree, tests included."""
    borrowed = []
    for path in _files():
        for module, name, line in _imports(path):
            if module.split(".")[0] not in (*RUNGS, "bench", "tests"):
                continue
            segments = module.split(".") + ([name] if name else [])
            first = next((i for i, s in enumerate(segments) if _private(s)), None)
            if first is not None and _owner(".".join(segments[:first])) != _package(path):
                borrowed.append(f"{_where(path, line)} imports {module}{'.' + name if name else ''}")
    assert not borrowed, "private names borrowed from another package:\n" + "\n".join(borrowed)


def test_product_code_reaches_into_no_other_packages_private_names():
    """`module._name` through an imported project module, outside tests (tests may look at the internals of
    the module they test)."""
    reached = []
    for path in _files():
        if _module(path).split(".")[0] == "tests":
            continue
        aliases = {}
        for module, name, _ in _imports(path):
            dotted = f"{module}.{name}" if name else module
            if _is_module(dotted):
                aliases[name or module.split(".")[0]] = dotted if name else module.split(".")[0]
        for node in ast.walk(_tree(path)):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            chain, value = [], node.value
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                target = ".".join([aliases[value.id], *chain])
                if _is_module(target) and _owner(target) != _package(path):
                    reached.append(f"{_where(path, node.lineno)} uses {target}.{node.attr}")
    assert not reached, "private names used from another package:\n" + "\n".join(reached)


@pytest.mark.parametrize("window", WINDOWS)
def test_the_four_windows_share_core_window(window):
    imported = {f"{module}.{name}" if name and _is_module(f"{module}.{name}") else module
                for module, name, _ in _imports(ROOT / window)}
    assert "core.window" in imported, f"{window} does not use core/window.py"
    others = {_module(ROOT / other) for other in WINDOWS if other != window}
    assert not imported & others, f"{window} borrows from another window: {imported & others}"


def test_only_core_window_opens_closes_and_watches_windows():
    direct = [f"{_where(path, node.lineno)} calls cv2.{node.attr}" for path in _files()
              if _module(path).split(".")[0] != "tests" and _module(path) != "core.window"
              for node in ast.walk(_tree(path))
              if isinstance(node, ast.Attribute) and node.attr in WINDOW_CALLS
              and isinstance(node.value, ast.Name) and node.value.id == "cv2"]
    assert not direct, "use core.window instead:\n" + "\n".join(direct)
