"""Exercise stubs are made from the reference solutions, never written twice.

`stub_source(kata)` takes solutions/<module>.py and replaces the body of every
function and method (after its docstring) with one line:

    raise NotImplementedError("not implemented yet: <kata>.<qualified name>")

Everything else (imports, module docstring, class layout, signatures, docstrings,
comments between definitions) is kept byte for byte. So exercises/ and solutions/
cannot drift apart: `make check` proves every exercise file is exactly its generated
stub, and `make reset` restores a kata from the same generator.

A student edition (`make release`) leaves solutions/ out; it keeps each kata's
pristine stub in gptkata/kata/pristine/ instead, and everything here reads that copy
where the solution is absent (`api_source`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest

PREFIX = "not implemented yet: "


def _functions(tree: ast.AST):
    """(qualified name, node) for every function or method, outermost first; nested
    functions live inside a body that is replaced, so they are not listed."""

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield prefix + node.name, node
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, prefix + node.name + ".")

    yield from walk(tree.body, "")


def _docstring_node(func: ast.FunctionDef):
    first = func.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def stub_text(source: str, kata_name: str) -> str:
    """The stub version of a solution module's source text."""
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    cuts = []  # (first line to replace, last line, indent, message), 1-based inclusive
    for qualname, func in _functions(tree):
        doc = _docstring_node(func)
        first_statement = (
            func.body[1] if doc and len(func.body) > 1 else (None if doc else func.body[0])
        )
        start = doc.end_lineno + 1 if doc else first_statement.lineno
        if first_statement is not None and first_statement.lineno == func.lineno:
            raise ValueError(f"{kata_name}.{qualname}: put the body on its own lines to stub it")
        body_line = lines[(first_statement or doc).lineno - 1]
        indent = body_line[: len(body_line) - len(body_line.lstrip())]
        cuts.append((start, func.end_lineno, indent, f"{PREFIX}{kata_name}.{qualname}"))
    for start, end, indent, message in sorted(cuts, reverse=True):
        lines[start - 1 : end] = [f'{indent}raise NotImplementedError("{message}")\n']
    return "".join(lines)


def pristine_file(kata: manifest.Kata) -> Path:
    """Where a student edition keeps the kata's pristine stub."""
    return paths.PRISTINE / f"{kata.module}.py"


def stub_source(kata: manifest.Kata) -> str:
    """The pristine exercise file for `kata`: generated from its solution, or the copy
    a student edition keeps; a ValueError that says so when there is neither."""
    if kata.solution_file.is_file():
        return stub_text(kata.solution_file.read_text(encoding="utf-8"), kata.name)
    if pristine_file(kata).is_file():
        return pristine_file(kata).read_text(encoding="utf-8")
    raise ValueError(
        f"kata {kata.name} has neither solutions/{kata.module}.py nor a pristine stub in "
        f"{pristine_file(kata).relative_to(paths.ROOT)}: restore one from the course repository"
    )


def api_source(kata: manifest.Kata) -> str:
    """A text with the kata's functions, signatures and docstrings: the solution, or
    the pristine stub where the solution is absent (both declare the same API)."""
    return (
        stub_source(kata)
        if not kata.solution_file.is_file()
        else kata.solution_file.read_text(encoding="utf-8")
    )


def stubbed_functions(kata: manifest.Kata) -> list[str]:
    """'kata.qualname' of every function the learner writes in `kata` (none when
    neither its solution nor its pristine stub is there)."""
    try:
        tree = ast.parse(api_source(kata))
    except ValueError:
        return []
    return [f"{kata.name}.{q}" for q, _ in _functions(tree)]


_STUB_LINE = re.compile(r'raise NotImplementedError\("' + re.escape(PREFIX) + r'([\w.]+)"\)')


def remaining(path: Path) -> list[tuple[str, int]]:
    """('kata.function', line) for every stub line still in the file at `path`."""
    if not path.is_file():
        return []
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _STUB_LINE.search(line)
        if match:
            found.append((match.group(1), number))
    return found
