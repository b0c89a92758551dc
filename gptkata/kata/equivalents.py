"""The reviewed list of equivalent mutants: tests/katas/equivalent_mutants.toml.

`make mutants` (gptkata/kata/mutants.py) counts a survivor that the list names as
equivalent rather than survived. Each entry is a mutant that no kata test can tell
apart from the reference, with the reason: the kata, the line of its solution as it
is, the line as the mutant has it, and why. `problems` finds the entries that cannot
be right - above all a line that is no longer in the solution, so that its mutant no
longer exists - and `make check` fails on any (tests/tooling/test_mutants.py), with no
mutation run and without mutmut.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest

EQUIVALENTS = paths.KATA_TESTS / "equivalent_mutants.toml"


def load(path: Path = EQUIVALENTS) -> list[dict]:
    """The reviewed equivalent mutants: each a table with kata, line, mutant and why."""
    if not path.is_file():
        return []
    with path.open("rb") as f:
        return list(tomllib.load(f).get("equivalent", []))


def in_code(text: str, line: str) -> bool:
    """Whether `line` is in `text`: one line of it, or several in a row joined by
    spaces (each stripped), as `make mutants` writes a change over several lines."""
    rows = [row.strip() for row in text.splitlines()]
    for i, row in enumerate(rows):
        joined, after = row, i + 1
        while joined != line and line.startswith(joined) and after < len(rows):
            joined, after = f"{joined} {rows[after]}", after + 1
        if joined == line:
            return True
    return False


def problems(entries: list[dict]) -> list[str]:
    """One line for each entry of the equivalents list that cannot be right: a field
    missing, no reason given, an unknown kata, a duplicate, or - the list gone stale -
    a line that is no longer in the kata's solution, so that its mutant no longer
    exists. `make check` fails on any (tests/tooling/test_mutants.py)."""
    found, seen = [], set()
    for number, entry in enumerate(entries, start=1):
        where = f"{EQUIVALENTS.name}, entry {number}"
        if set(entry) != {"kata", "line", "mutant", "why"}:
            found.append(f"{where}: has {sorted(entry)}, needs kata, line, mutant and why")
            continue
        key = (entry["kata"], entry["line"], entry["mutant"])
        names = {k.name: k for k in manifest.KATAS}
        if entry["kata"] not in names:
            found.append(f"{where}: there is no kata called {entry['kata']!r}")
        elif not in_code(names[entry["kata"]].solution_file.read_text(encoding="utf-8"), key[1]):
            module = names[entry["kata"]].module
            found.append(
                f"{where} ({entry['kata']}): solutions/{module}.py no longer has the line "
                f"{key[1]!r}, so this mutant no longer exists: remove the entry"
            )
        if not entry["why"].strip() or key[1] == key[2]:
            found.append(f"{where}: a mutant needs a change and a reason why it is equivalent")
        if key in seen:
            found.append(f"{where}: listed twice")
        seen.add(key)
    return found
