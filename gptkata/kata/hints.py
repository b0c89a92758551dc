"""`make hint KATA=<name>`: a kata's hints, revealed one at a time.

Every kata has three hints in the manifest (gptkata/kata/katas.toml): a nudge, then the
concept, then something close to the code. Each `make hint` reveals one more and
shows again the ones already revealed, so the newest is always at the bottom; it
says how many are left. `AGAIN=1` shows the revealed ones without revealing another;
`RESTART=1` hides them all again.

How many hints of each kata you have seen is kept in .gptkata/hints.json (ignored
by git), so it survives between runs and never touches your exercises.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest


def state_file() -> Path:
    """Where the revealed counts are kept: .gptkata/hints.json, ignored by git."""
    return paths.ROOT / ".gptkata" / "hints.json"


def _seen_counts() -> dict[str, int]:
    try:
        return json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def seen(kata: manifest.Kata) -> int:
    """How many hints of `kata` have been revealed so far."""
    return min(int(_seen_counts().get(kata.name, 0)), len(kata.hints))


def _remember(kata: manifest.Kata, count: int) -> None:
    counts = _seen_counts()
    counts[kata.name] = count
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(counts, indent=1, sort_keys=True), encoding="utf-8")


def reveal(kata: manifest.Kata) -> int:
    """Reveal one more hint of `kata` (if any is left); returns how many are revealed."""
    count = min(seen(kata) + 1, len(kata.hints))
    _remember(kata, count)
    return count


def restart(kata: manifest.Kata) -> None:
    """Hide every hint of `kata` again."""
    _remember(kata, 0)


def hint_lines(kata: manifest.Kata, count: int, newest_is_new: bool = True) -> list[str]:
    """The first `count` hints of `kata`, numbered, then what is left to reveal."""
    total = len(kata.hints)
    lines = [f"Hints for kata {kata.number}, {kata.name} - {kata.title}"]
    for number, text in enumerate(kata.hints[:count], start=1):
        label = f"Hint {number} of {total}"
        if number == count and newest_is_new:
            label += " (new)"
        lines.append("")
        lines.append(f"{label}:")
        lines += textwrap.wrap(text, width=88, initial_indent="  ", subsequent_indent="  ")
    lines.append("")
    left = total - count
    if count == 0:
        lines.append(f"No hints revealed yet ({total} to go): make hint KATA={kata.name}")
    elif left:
        more = "1 more hint" if left == 1 else f"{left} more hints"
        lines.append(f"{more}: make hint KATA={kata.name}")
    else:
        lines.append("That was the last hint. Still stuck? Read the instructions again:")
        lines.append(
            f"  make show KATA={kata.name}    or start the hints over: make hint KATA={kata.name} RESTART=1"
        )
    lines.append(f"Read these again without revealing more: make hint KATA={kata.name} AGAIN=1")
    return lines


def main(kata_name: str, again: bool = False, start_over: bool = False) -> int:
    kata = manifest.get(kata_name)
    if start_over:
        restart(kata)
        print(f"The hints of {kata.name} are hidden again; the first: make hint KATA={kata.name}")
        return 0
    if not kata.hints:
        print(f"Kata {kata.name} has no hints yet; its instructions: make show KATA={kata.name}")
        return 0
    if again:
        print("\n".join(hint_lines(kata, seen(kata), newest_is_new=False)))
    else:
        before = seen(kata)
        count = reveal(kata)
        print("\n".join(hint_lines(kata, count, newest_is_new=count > before)))
    return 0
