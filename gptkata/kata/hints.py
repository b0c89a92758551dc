"""`make hint KATA=<name>`: a kata's hints, revealed one at a time.

Every kata has three hints in the manifest (gptkata/kata/katas.toml): a nudge, then the
concept, then something close to the code. Each `make hint` reveals one more and
shows again the ones already revealed, so the newest is always at the bottom; it
says how many are left. `AGAIN=1` shows the revealed ones without revealing another;
`RESTART=1` hides them all again.

How many hints of each kata you have seen is kept in .gptkata/hints.json (ignored
by git), so it survives between runs and never touches your exercises. Every change
is made under a lock (.gptkata/hints.json.lock), reading and writing in one step, and
written atomically (a temporary file renamed into place): two `make hint` at once
both count, and an interrupted one leaves the old file whole. A file that is not a
table of kata names to counts (hand-edited, say) is never guessed at: it is moved
aside as hints.json.broken-<time>, a note says so, and the counts start over.
"""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import datetime
from pathlib import Path

from gptkata import outputs, paths
from gptkata.kata import manifest

LOCK_SECONDS = 10.0


class StateError(Exception):
    """The hint state cannot be read or written at all (a lock held too long, an
    unwritable .gptkata/). One line, with what to do."""


def state_file() -> Path:
    """Where the revealed counts are kept: .gptkata/hints.json, ignored by git."""
    return paths.ROOT / ".gptkata" / "hints.json"


def _valid(counts) -> bool:
    return isinstance(counts, dict) and all(
        isinstance(name, str) and type(count) is int and count >= 0
        for name, count in counts.items()
    )


def _set_aside(file: Path, why: str) -> None:
    """Keep a malformed state file beside it under a new name, and say so."""
    kept = file.with_name(f"{file.name}.broken-{datetime.now():%Y%m%d-%H%M%S-%f}")
    file.replace(kept)
    print(
        f"note: {file.name} was not a table of hint counts ({why}); it is kept as "
        f"{paths.shown(kept)}"
        " and the hints start over",
        file=sys.stderr,
    )


def _read(fix: bool) -> dict[str, int] | None:
    """The counts on file ({} without one). A malformed file is set aside when `fix`
    (under the lock) and read as {}; without `fix` it gives None."""
    file = state_file()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StateError(f"cannot read {file} ({error.strerror}); check its permissions") from error
    try:
        counts = json.loads(text)
        why = None if _valid(counts) else f"found {type(counts).__name__}: {text.strip()[:40]!r}"
    except ValueError as error:
        counts, why = {}, f"not JSON: {error.msg} at line {error.lineno}"
    if why is None:
        return counts
    if not fix:
        return None
    _set_aside(file, why)
    return {}


def _locked():
    from filelock import FileLock  # here, not at the top: 30 ms every command would pay

    file = state_file()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(file) + ".lock", timeout=LOCK_SECONDS)
    except OSError as error:
        raise StateError(f"cannot create {file.parent} ({error.strerror})") from error


def _update(change) -> dict[str, int]:
    """Read the counts, apply `change(counts)` and write them back, all under the lock."""
    from filelock import Timeout

    try:
        with _locked():
            counts = _read(fix=True)
            change(counts)
            outputs.write_text(state_file(), json.dumps(counts, indent=1, sort_keys=True) + "\n")
            return counts
    except Timeout as error:
        raise StateError(
            f"another `make hint` holds {error.lock_file} for over {LOCK_SECONDS:g} s;"
            " try again, or delete that file if no other one is running"
        ) from error
    except OSError as error:
        raise StateError(
            f"cannot write {state_file()} ({error.strerror}); check the folder's permissions"
        ) from error


def seen(kata: manifest.Kata) -> int:
    """How many hints of `kata` have been revealed so far."""
    counts = _read(fix=False)
    if counts is None:  # malformed: set it aside, with a note, and start over
        counts = _update(lambda counts: None)
    return min(counts.get(kata.name, 0), len(kata.hints))


def reveal(kata: manifest.Kata) -> int:
    """Reveal one more hint of `kata` (if any is left); returns how many are revealed."""

    def one_more(counts):
        counts[kata.name] = min(min(counts.get(kata.name, 0), len(kata.hints)) + 1, len(kata.hints))

    return _update(one_more)[kata.name]


def restart(kata: manifest.Kata) -> None:
    """Hide every hint of `kata` again."""
    _update(lambda counts: counts.__setitem__(kata.name, 0))


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
