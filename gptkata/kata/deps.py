"""Which katas each kata's tests use, read from the sources themselves.

A kata builds on earlier ones in two ways, both written in plain sight:

  solutions/<module>.py   `attention = earlier(__name__, "averaging")` at the top
  tests/katas/test_*.py   `batching = Lazy(dependency, "batching")`, and the
                          `shakespeare` fixture of tests/conftest.py, which uses
                          `dependency("tokenizer")` and `dependency("batching")`

`uses(kata)` follows these links to the end (attention uses averaging, multihead
uses attention and so averaging too). Under CHAIN=mine every kata it uses is the
learner's own, so its result depends on those files as well: the results cache keys
on them, and the progress view names the first unfinished one as the cause.
"""

from __future__ import annotations

import re
from functools import cache

from gptkata import paths
from gptkata.kata import manifest

_EARLIER = re.compile(r"""earlier\(__name__,\s*["'](\w+)["']\)""")
_DEPENDENCY = re.compile(r"""(?:Lazy\(dependency,\s*|dependency\()["'](\w+)["']\)""")
_FIXTURE = "shakespeare"  # the conftest fixture built from the chain's tokenizer and batching


def _text(path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


@cache
def direct(name: str) -> frozenset[str]:
    """The katas that kata `name`'s solution and tests name directly."""
    kata = manifest.get(name)
    tests = _text(kata.test_file)
    found = set(_EARLIER.findall(_text(kata.solution_file))) | set(_DEPENDENCY.findall(tests))
    if _FIXTURE in tests:
        found |= set(_DEPENDENCY.findall(_text(paths.ROOT / "tests" / "conftest.py")))
    known = {k.name for k in manifest.KATAS}
    return frozenset(found & known - {name})


def uses(kata: manifest.Kata) -> tuple[manifest.Kata, ...]:
    """Every kata that `kata`'s tests use, directly or through another, in manifest order."""
    seen: set[str] = set()
    todo = [kata.name]
    while todo:
        for other in direct(todo.pop()):
            if other not in seen and other != kata.name:
                seen.add(other)
                todo.append(other)
    return tuple(k for k in manifest.KATAS if k.name in seen)
