"""`make show KATA=<name>`: a kata's instructions, put together from the sources
that cannot drift from the code and the tests.

  what to build, why a GPT needs it, the shapes   the module docstring of the
                                                  solution (copied into the exercise)
  which step of the seed notebook or lecture      the manifest's `seed`
  the functions to write                          the stubs still in your file, with
                                                  their signatures and docstrings' first lines
  how the tests check it                          the test names, which are sentences

Nothing here is written twice: change a docstring, a manifest entry or a test name,
and the instructions change with it. Reading only; nothing is written.
"""

from __future__ import annotations

import ast
import re
import textwrap

from gptkata import paths
from gptkata.kata import manifest, stubs
from gptkata.kata.results import as_sentence


def test_sentences(kata: manifest.Kata) -> list[str]:
    """The names of the kata's tests, as sentences, in file order."""
    if not kata.test_file.is_file():
        return []
    tree = ast.parse(kata.test_file.read_text(encoding="utf-8"))
    return [
        as_sentence(node.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def first_sentence(doc: str | None, width: int = 78) -> list[str]:
    """The first sentence of a docstring, whole (never cut at a line break of the
    source), wrapped to `width` columns."""
    paragraph = " ".join((doc or "").strip().split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+(?=[A-Z`(])", paragraph, maxsplit=1)[0]
    return textwrap.wrap(sentence, width) if sentence else []


def instructions(kata: manifest.Kata) -> list[str]:
    """The instructions for `kata`, as lines."""
    api = stubs.api(stubs.api_source(kata))
    exercise = f"exercises/{kata.module}.py"
    lines = [
        f"Kata {kata.number} of {len(manifest.KATAS)}: {kata.name} - {kata.title}",
        f"From the seed notebook: {kata.seed}",
        "",
        *api["<module>"][1].splitlines(),
        "",
    ]
    left = stubs.remaining(paths.ROOT / exercise)
    if left:
        lines.append(f"To write in {exercise} (each docstring there says exactly what to do):")
        for stub, line in left:
            name = stub.split(".", 1)[1]
            signature, doc = api.get(name, ("(...)", ""))
            lines.append(f"  line {line:<4} {name}{signature}")
            lines += [f"            {line}" for line in first_sentence(doc)]
    else:
        lines.append(f"No stubs left in {exercise}: every function has your code.")
    sentences = test_sentences(kata)
    if sentences:
        lines += ["", f"The tests ({paths.shown(kata.test_file)}) check that:"]
        lines += [f"  - {s}" for s in sentences]
    lines += [
        "",
        f"Run them: make test KATA={kata.name}    Stuck: make hint KATA={kata.name}"
        f" ({len(kata.hints)} hints)",
    ]
    return lines


def main(kata_name: str) -> int:
    print("\n".join(instructions(manifest.get(kata_name))))
    return 0
