"""The package's plan: imports run one way, model -> store -> engine -> workflow / io -> cli / server.

Every module of ``cfkb/`` is parsed with :mod:`ast`; every import it makes, at the top or inside
a function (an import inside a function is a dependency all the same), is an arrow from it to
the module it names. The test fails on an arrow from a lower layer to a higher one, and on any
circle of modules, naming the files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cfkb"

# Lowest first. A module may import from its own layer or a lower one. The entries are module
# names or package prefixes; ``cfkb`` itself (the package's front door) is the top.
LAYERS: list[tuple[str, ...]] = [
    ("cfkb.errors", "cfkb.resources", "cfkb.version"),
    ("cfkb.model",),
    ("cfkb.store",),
    ("cfkb.shacl",),
    ("cfkb.engine",),
    ("cfkb.workflow",),
    ("cfkb.io",),
    ("cfkb.server",),
    ("cfkb.cli", "cfkb.__main__", "cfkb"),
]

# Circles known and left as they stand, each exactly (none today).
KNOWN_CIRCLES: list[set[str]] = []


def modules(root: Path) -> dict[str, Path]:
    """Every module under ``root`` by its dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The modules of ``known`` that ``module`` imports, each with the line of the import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := _owner(alias.name, known)) is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                # ``from pkg import mod`` names the module; ``from mod import name`` the module
                full = f"{base}.{alias.name}"
                target = full if full in known else _owner(base, known)
                if target is not None:
                    yield target, node.lineno


def graph(root: Path) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    known = modules(root)
    arrows: dict[str, dict[str, int]] = {m: {} for m in known}
    for module, path in known.items():
        for target, line in imports(module, path, known):
            if target != module:
                arrows[module].setdefault(target, line)
    return known, arrows


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for level, entries in enumerate(LAYERS):
        for entry in entries:
            matches = module == entry or (entry != "cfkb" and module.startswith(entry + "."))
            if matches and len(entry) > best_len:
                best, best_len = level, len(entry)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best


def circles(arrows: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in arrows[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(arrows):
        if v not in index:
            visit(v)
    return found


def _circle_text(group: list[str], known: dict[str, Path], arrows: dict[str, dict[str, int]]) -> str:
    members = set(group)
    ties = [f"  {known[a].relative_to(PACKAGE.parent)}:{line} imports {b}"
            for a in group for b, line in sorted(arrows[a].items()) if b in members]
    return "\n".join(["a circle of " + ", ".join(str(known[m].relative_to(PACKAGE.parent)) for m in group), *ties])


def test_no_import_circles():
    known, arrows = graph(PACKAGE)
    found = circles(arrows)
    new = [group for group in found if set(group) not in KNOWN_CIRCLES]
    assert not new, "\n".join(_circle_text(group, known, arrows) for group in new)
    gone = [known_one for known_one in KNOWN_CIRCLES if known_one not in [set(g) for g in found]]
    assert not gone, f"no longer a circle, drop it from KNOWN_CIRCLES: {gone}"


def test_no_import_from_a_lower_layer_to_a_higher_one():
    known, arrows = graph(PACKAGE)
    upward = [f"{known[a].relative_to(PACKAGE.parent)}:{line} imports {b} (layer {layer_of(b)} above {layer_of(a)})"
              for a in sorted(arrows) for b, line in sorted(arrows[a].items()) if layer_of(b) > layer_of(a)]
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_the_check_sees_a_circle_made_inside_a_function(tmp_path):
    """The checker itself: a circle held apart only by an import inside a function still counts."""
    pkg = tmp_path / "cfkb"
    (pkg / "io").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("")
    (pkg / "io" / "a.py").write_text("from cfkb.io.b import thing\n")
    (pkg / "io" / "b.py").write_text("def thing():\n    from . import a\n    return a\n")
    (pkg / "model.py").write_text("def f():\n    from cfkb.io import a\n")
    known, arrows = graph(pkg)
    assert circles(arrows) == [["cfkb.io.a", "cfkb.io.b"]]
    assert "cfkb.io.a" in arrows["cfkb.model"] and layer_of("cfkb.io.a") > layer_of("cfkb.model")
