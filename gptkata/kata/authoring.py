"""Writing a kata: `make new-kata NAME=<name> TITLE="..."` and the authoring rules.

`make new-kata` writes everything a kata needs, each part already following the rules
below, so a new kata passes `make check` before its first real line:

  gptkata/kata/katas.toml       the manifest entry, with three hint placeholders
  solutions/<name>.py           cell markers, the module docstring, one function
  tests/katas/test_<name>.py    a first test, through the seam (select.Lazy)
  exercises/<name>.py           the stub generated from the solution
  README.md                     the kata's row in the table of katas

The rules `problems()` checks, for every kata at once, each problem one line with
what to do (`make check` prints them before its slow parts):

  files        solutions/<module>.py, tests/katas/test_<name>.py and the exercise exist
  hints        three hints in the manifest, none still a TODO placeholder
  cells        `# %%` as the first line and before the imports and each top-level def
  docstring    the module docstring's first line starts "Kata - " or "Kata <number> - "
               (the number is not checked: inserting a kata never forces edits in
               the others)
  README       a row `| n | `<name>` | ...` in the table of katas (any number)

Numbers come from the order of the manifest only; no file name carries one.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys

from gptkata import paths
from gptkata.kata import manifest, stubs

PLACEHOLDER = "TODO hint"


def problems(katas=None) -> list[str]:
    """Every authoring problem of every kata, one line each."""
    katas = manifest.KATAS if katas is None else katas
    found = []
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    for kata in katas:
        found += [f"{kata.name}: {p}" for p in _kata_problems(kata, readme)]
    return found


def _kata_problems(kata: manifest.Kata, readme: str) -> list[str]:
    out = []
    for path, what in (
        (kata.solution_file, "write it (make new-kata starts one)"),
        (kata.test_file, "write its tests (make new-kata starts one)"),
    ):
        if not path.is_file():
            out.append(f"{paths.shown(path)} is missing: {what}")
    if len(kata.hints) < 3:
        out.append(
            f"the manifest has {len(kata.hints)} hints, give it 3 (a nudge, the concept, near-code)"
        )
    if any(h.startswith(PLACEHOLDER) for h in kata.hints):
        out.append("a hint in gptkata/kata/katas.toml is still a placeholder: write it")
    if not re.search(rf"^\|\s*\d+\s*\|\s*`{re.escape(kata.name)}`\s*\|", readme, re.M):
        out.append(
            f"README.md has no row for it: add `| {kata.number} | `{kata.name}` | ... |` to the table of katas"
        )
    if not kata.solution_file.is_file():
        return out
    source = kata.solution_file.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [
            *out,
            f"solutions/{kata.module}.py does not parse (line {error.lineno}): fix it first",
        ]
    doc = (ast.get_docstring(tree) or "").splitlines()
    if not doc or not re.match(r"^Kata( \d+)? - \S", doc[0]):
        out.append(
            f'the module docstring must start "Kata - " (or "Kata <n> - "), e.g. "Kata - {kata.name}: ..."'
        )
    out += [f"solutions/{kata.module}.py: {p}" for p in cell_problems(source, tree)]
    try:
        stubs.stub_text(source, kata.name)
    except ValueError as error:
        out.append(f"{error}")
    return out


def cell_problems(source: str, tree: ast.Module) -> list[str]:
    """Where a `# %%` marker is missing: the first line, before the imports, before
    each top-level def or class (above its decorators)."""
    lines = source.splitlines()
    out = [] if lines[:1] == ["# %%"] else ["the first line must be `# %%` (the docstring's cell)"]
    first_import = next((n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))), None)
    if first_import is not None and not _marked(lines, first_import.lineno):
        out.append(f"put `# %%` on the line before the imports (line {first_import.lineno})")
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if not _marked(lines, start):
                out.append(f"put `# %%` on the line before {node.name} (line {start})")
    return out


def _marked(lines: list[str], lineno: int) -> bool:
    above = [line for line in lines[: lineno - 1] if line.strip()]
    return bool(above) and above[-1].strip() == "# %%"


def solution_text(name: str, title: str) -> str:
    return (
        f'# %%\n"""Kata - {name}: {title}.\n\nWhat the learner builds, why a GPT needs it, the shapes, and the usual pitfall.\n"""\n\n'
        "# %%\nfrom __future__ import annotations\n\nimport torch\n\n\n"
        f"# %%\ndef first_step(x: torch.Tensor) -> torch.Tensor:\n"
        '    """What this function must do, exactly: the shapes in and out."""\n'
        "    return x\n"
    )


def test_text(name: str) -> str:
    return (
        f'"""The {name} kata."""\n\nimport torch\n\n'
        "from gptkata.kata.select import Lazy, implementation\nfrom tests import expect\n\n"
        f'{name} = Lazy(implementation, "{name}")\n\n\n'
        "def test_first_step_keeps_the_input():\n"
        "    x = torch.arange(3.0)\n"
        f'    expect.equal("first_step(x)", {name}.first_step(x).tolist(), x.tolist(), "replace this test")\n'
    )


def new_kata(name: str, title: str) -> list[str]:
    """Write every file of a new kata; returns the lines to print."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or ""):
        raise ValueError("NAME must be a lowercase Python name, e.g. NAME=layer_norm")
    if not title:
        raise ValueError('give the kata a one-line title: TITLE="..."')
    if name in {k.name for k in manifest.KATAS}:
        raise ValueError(f"there is already a kata called {name}")
    solution, test = paths.SOLUTIONS / f"{name}.py", paths.KATA_TESTS / f"test_{name}.py"
    for path in (solution, test, paths.EXERCISES / f"{name}.py"):
        if path.exists():
            raise ValueError(f"{paths.shown(path)} exists already; nothing was written")
    hints = ",\n".join(
        f'    "{PLACEHOLDER} {i}: {what}"'
        for i, what in enumerate(("a nudge", "the concept", "near-code"), 1)
    )
    entry = f'\n[[kata]]\nname = "{name}"\nmodule = "{name}"\ntitle = "{title}"\nseed = ""\nhints = [\n{hints},\n]\n'
    manifest_path = paths.ROOT / manifest.MANIFEST.relative_to(manifest.MANIFEST.parents[2])
    solution.write_text(solution_text(name, title), encoding="utf-8")
    test.write_text(test_text(name), encoding="utf-8")
    with manifest_path.open("a", encoding="utf-8") as f:
        f.write(entry)
    number = len(manifest.KATAS) + 1
    kata = manifest.Kata(number, name, name, title, "", ())
    (paths.EXERCISES / f"{name}.py").write_text(
        stubs.stub_text(solution.read_text(), name), encoding="utf-8"
    )
    readme = paths.ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    rows = list(re.finditer(r"^\|\s*\d+\s*\|\s*`\w+`\s*\|.*$", text, re.M))
    row = f"| {number} | `{name}` | {title} | |"
    at = rows[-1].end() if rows else len(text)
    readme.write_text(text[:at] + "\n" + row + text[at:], encoding="utf-8")
    return [
        f"Kata {kata.number}, {name}: written solutions/{name}.py, tests/katas/test_{name}.py,"
        f" exercises/{name}.py, its manifest entry and README row.",
        "Next: write the solution and its tests, the three hints in gptkata/kata/katas.toml,"
        f" then `make reset KATA={name}` for the stub and `make check`.",
        "To place it elsewhere in the path, move its [[kata]] entry in the manifest: nothing else changes.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gptkata new-kata", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--name", default="")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    try:
        print("\n".join(new_kata(args.name, args.title)))
    except ValueError as error:
        print(f"make new-kata: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
