"""The package's two wings depend one way: the lab may use the harness, never the
reverse, and the shared modules use neither. The benchmarks stand outside the package,
which never imports them. And no module imports one that imports it back, in gptkata/
or in benchmarks/: a circle, even one closed by an import inside a function, makes a
module half-built while another uses it, and a command run as `python -m` (its
module then called __main__) imported a second time."""

import ast
from collections import deque
from pathlib import Path

import pytest

from gptkata import paths

PACKAGE = paths.ROOT / "gptkata"
SHARED = ("paths.py", "data.py", "outputs.py")


def imported_modules(path: Path, module: str = "") -> set[str]:
    """Every module that `path` imports anywhere - at the top, inside a function, under
    `if __name__ == "__main__":` - as dotted names (`from a import b` counts as both `a`
    and `a.b`, since b may be a module). `module` is the dotted name of `path`, which
    a relative import (`from . import b`) is resolved against."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, or a package above it
                above = package[: len(package) - node.level + 1]
                base = ".".join([*above, *([node.module] if node.module else [])])
            if base:
                names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(folder: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package that it imports, for every module of
    the package in `folder` (`gptkata.lab.train`; a package is its __init__.py)."""
    modules = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {
        name: {n for n in imported_modules(path, name) if n in modules and n != name}
        for name, path in modules.items()
    }


def circle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest chain of imports from `start` back to itself ([a, b, a]), or None:
    a breadth-first search of what `start` imports, and what those import..."""
    chain_to = {start: [start]}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for imported in sorted(graph[module]):
            if imported == start:
                return [*chain_to[module], start]
            if imported not in chain_to:
                chain_to[imported] = [*chain_to[module], imported]
                queue.append(imported)
    return None


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each module that is in one, unless an earlier circle already
    passed through it."""
    found, seen = [], set()
    for module in sorted(graph):
        circle = None if module in seen else circle_through(graph, module)
        if circle:
            found.append(circle)
            seen.update(circle)
    return found


def imports_wing(path: Path, wing: str) -> list[str]:
    prefix = f"gptkata.{wing}"
    return sorted(n for n in imported_modules(path) if n == prefix or n.startswith(prefix + "."))


@pytest.mark.parametrize("module", sorted(p.name for p in (PACKAGE / "kata").glob("*.py")))
def test_the_harness_never_imports_the_lab(module):
    found = imports_wing(PACKAGE / "kata" / module, "lab")
    assert not found, f"gptkata/kata/{module} imports {found}: the harness may not use the lab"


@pytest.mark.parametrize("module", SHARED)
def test_the_shared_modules_import_neither_wing(module):
    found = imports_wing(PACKAGE / module, "lab") + imports_wing(PACKAGE / module, "kata")
    assert not found, f"gptkata/{module} imports {found}: shared modules stand below both wings"


def test_the_check_sees_an_import_of_the_lab(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from gptkata.lab import train\n")
    assert imports_wing(module, "lab") == ["gptkata.lab", "gptkata.lab.train"]
    module.write_text("from gptkata import lab\n")
    assert imports_wing(module, "lab") == ["gptkata.lab"]


def test_each_wing_says_what_lives_there_and_what_it_may_import():
    for wing in ("kata", "lab"):
        doc = ast.get_docstring(ast.parse((PACKAGE / wing / "__init__.py").read_text())) or ""
        assert "May import" in doc and "starts" in doc, f"gptkata/{wing}/__init__.py docstring"


def test_the_package_never_imports_the_benchmarks():
    found = {
        f"{path.relative_to(paths.ROOT)}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in imported_modules(path)
        if name == "benchmarks" or name.startswith("benchmarks.")
    }
    assert not found, f"the package imports the benchmarks: {sorted(found)}"


@pytest.mark.parametrize("folder", ["gptkata", "benchmarks"])
def test_no_module_imports_one_that_imports_it_back(folder):
    found = circles(import_graph(paths.ROOT / folder))
    shown = "; ".join(" -> ".join(circle) for circle in found)
    assert not found, f"import circles in {folder}/ (break each one: {shown})"


def test_the_circle_check_sees_circles_closed_inside_a_function_or_by_a_relative_import(
    tmp_path,
):
    package = tmp_path / "pkg"
    package.mkdir()
    modules = {
        "__init__": "",
        "a": "from pkg import b\n",
        "b": "def later():\n    from pkg.a import thing\n",
        "c": "import pkg.a\n",  # imports into the circle, is not part of it
        "d": "from . import e\n",
        "e": "if __name__ == '__main__':\n    from .d import main\n",
    }
    for name, source in modules.items():
        (package / f"{name}.py").write_text(source)
    assert circles(import_graph(package)) == [
        ["pkg.a", "pkg.b", "pkg.a"],
        ["pkg.d", "pkg.e", "pkg.d"],
    ]
    (package / "b.py").write_text("import json\n")  # the first circle broken
    assert circles(import_graph(package)) == [["pkg.d", "pkg.e", "pkg.d"]]
