"""Exercise stubs are made from the reference solutions, never written twice.

The learner writes the concept and nothing else. `stub_source(kata)` takes
solutions/<module>.py and keeps, byte for byte, everything a learner is given:

* imports, the module docstring, class layout, signatures, docstrings and the
  comments between definitions;
* every private function or method, whose name starts with one underscore
  (`_check_ids`, `GPTLanguageModel._init_weights`): input validation, helpers and
  weight initialisation are given whole, never stubbed;
* the leading lines of a public function that stand above the marker line

      # -- your code below --

  at the function's own indentation: the validation of its arguments (a call of a
  given `_check_*` helper, or a few `if ...: raise ValueError(...)` lines), which
  runs before anything the learner writes.

The rest of each public function's body - all of it after the docstring, or all of
it after the marker - becomes one line:

    raise NotImplementedError("not implemented yet: <kata>.<qualified name>")

So a bad input fails with its ValueError already in the pristine exercise, and the
learner's work starts at the marker. exercises/ and solutions/ cannot drift apart:
`make check` proves every exercise file is exactly its generated stub, that every
`raise ValueError` of a solution lies in the given part, and `make reset` restores a
kata from the same generator.

A student edition (`make release`) leaves solutions/ out; it keeps each kata's
pristine stub in gptkata/kata/pristine/ instead, and everything here reads that copy
where the solution is absent (`api_source`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest

PREFIX = "not implemented yet: "
MARKER = "# -- your code below --"


def is_given(name: str) -> bool:
    """True for a private name (`_check`), which is given whole; dunders such as
    `__init__` are public: the learner writes them."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


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


def function_at(source: str, line: int) -> str | None:
    """The qualified name ('RopeAttention._rope_table') of the function or method of
    `source` whose lines hold `line`, given or stubbed; None outside any function."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for qualified, node in _functions(tree):
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            return qualified
    return None


def in_given_code(source: str, line: int, kata_name: str) -> bool:
    """True when `line` of a learner's file is given code: a private helper, or the
    lines of a public function above its `# -- your code below --` (its validation)."""
    qualified = function_at(source, line)
    if qualified is None:
        return False
    if is_given(qualified.rsplit(".", 1)[-1]):
        return True
    try:
        spans = {cut.qualname: cut for cut in cuts(source, kata_name)}
    except (ValueError, SyntaxError):
        return False
    return qualified in spans and line < spans[qualified].start


def _docstring_node(func: ast.FunctionDef):
    first = func.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


@dataclass(frozen=True)
class Cut:
    """The part of one public function that the learner writes: lines `start` to
    `end` (1-based, inclusive) of the solution, replaced by one stub line at `indent`."""

    qualname: str
    start: int
    end: int
    indent: str


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def cuts(source: str, kata_name: str) -> list[Cut]:
    """The learner's part of every public function of a solution, in file order."""
    lines = source.splitlines(keepends=True)
    found = []
    for qualname, func in _functions(ast.parse(source)):
        if is_given(func.name):
            continue
        doc = _docstring_node(func)
        statements = func.body[1:] if doc else func.body
        if statements and statements[0].lineno == func.lineno:
            raise ValueError(f"{kata_name}.{qualname}: put the body on its own lines to stub it")
        indent = _indent(lines[(statements[0] if statements else doc).lineno - 1])
        start = doc.end_lineno + 1 if doc else statements[0].lineno
        last = func.end_lineno  # the last statement; comments after it belong to the body too
        while last < len(lines) and (
            not lines[last].strip()
            or (
                lines[last].lstrip().startswith("#") and len(_indent(lines[last])) > func.col_offset
            )
        ):
            last += 1
        markers = [n for n in range(start, last + 1) if lines[n - 1].strip() == MARKER]
        if len(markers) > 1:
            raise ValueError(f"{kata_name}.{qualname}: one `{MARKER}` line at most")
        if markers:
            (marker,) = markers
            if _indent(lines[marker - 1]) != indent:
                raise ValueError(
                    f"{kata_name}.{qualname}: put `{MARKER}` between the function's own "
                    f"statements, at their indentation"
                )
            if not any(s.lineno > marker for s in statements):
                raise ValueError(
                    f"{kata_name}.{qualname}: nothing follows `{MARKER}`, so the learner "
                    f"would have nothing to write"
                )
            start = marker + 1
        found.append(Cut(qualname, start, func.end_lineno, indent))
    return found


def stub_text(source: str, kata_name: str) -> str:
    """The stub version of a solution module's source text."""
    lines = source.splitlines(keepends=True)
    for cut in sorted(cuts(source, kata_name), key=lambda c: c.start, reverse=True):
        message = f"{PREFIX}{kata_name}.{cut.qualname}"
        lines[cut.start - 1 : cut.end] = [f'{cut.indent}raise NotImplementedError("{message}")\n']
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
        f"{paths.shown(pristine_file(kata))}: restore one from the course repository"
    )


def api_source(kata: manifest.Kata) -> str:
    """A text with the kata's functions, signatures and docstrings: the solution, or
    the pristine stub where the solution is absent (both declare the same API)."""
    return (
        stub_source(kata)
        if not kata.solution_file.is_file()
        else kata.solution_file.read_text(encoding="utf-8")
    )


def api(source: str) -> dict[str, tuple[str, str | None]]:
    """The API that `source` declares: qualified name -> (signature, docstring) for
    every function and class (`BPETokenizer.encode` -> ('(self, text: str) -> list[int]',
    ...)), and "<module>" -> ("", the module docstring). `make check` proves a
    solution and its exercise declare the same; `make show` prints it."""
    out = {}
    tree = ast.parse(source)
    out["<module>"] = ("", ast.get_docstring(tree))

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                signature = f"({ast.unparse(node.args)})"
                if node.returns is not None:
                    signature += f" -> {ast.unparse(node.returns)}"
                out[prefix + node.name] = (signature, ast.get_docstring(node))
            elif isinstance(node, ast.ClassDef):
                bases = ", ".join(ast.unparse(b) for b in node.bases)
                out[prefix + node.name] = (f"({bases})", ast.get_docstring(node))
                walk(node.body, prefix + node.name + ".")

    walk(tree.body, "")
    return out


def stubbed_functions(kata: manifest.Kata) -> list[str]:
    """'kata.qualname' of every function the learner writes in `kata` (private
    helpers are given, so they are not listed; none when neither its solution nor its
    pristine stub is there)."""
    try:
        tree = ast.parse(api_source(kata))
    except ValueError:
        return []
    return [f"{kata.name}.{q}" for q, node in _functions(tree) if not is_given(node.name)]


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
