"""The package's two wings depend one way: the lab may use the harness, never the
reverse, and the shared modules use neither."""

import ast
from pathlib import Path

import pytest

from gptkata import paths

PACKAGE = paths.ROOT / "gptkata"
SHARED = ("paths.py", "data.py", "outputs.py")


def imported_modules(path: Path) -> set[str]:
    """Every module that `path` imports, as dotted names (`from a import b` counts as
    both `a` and `a.b`, since b may be a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


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
