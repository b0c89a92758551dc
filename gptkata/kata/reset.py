"""`make reset KATA=<name>`: start a kata over from its pristine stub - without losing
what you wrote.

Your version of exercises/<module>.py is first saved under backups/ (ignored by git)
with the time in its name, e.g. backups/tokenizer-20250314-093015.py. Backups are
never overwritten and never deleted. Only once the backup is written and read back
intact is the exercise replaced by the stub generated from the solution
(gptkata.kata.stubs), written to a temporary file first and moved into place in one step.

A kata that is already the pristine stub needs no backup and is left alone. This is
the only command that writes under exercises/. When backups/ cannot take the backup
(not writable, a file instead of a folder, a full disk), nothing is changed and one
line says what to do.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gptkata import outputs, paths
from gptkata.kata import manifest, stubs


class ResetError(Exception):
    """The reset could not be done safely; nothing was lost. One line, with what to do."""


def _backup_problem(error: OSError) -> ResetError:
    folder = paths.shown(paths.BACKUPS)
    if paths.BACKUPS.is_symlink() and not paths.BACKUPS.exists():
        target = os.readlink(paths.BACKUPS)
        fix = f"{folder} is a link to {target}, which does not exist: create it or remove the link"
    elif paths.BACKUPS.exists() and not paths.BACKUPS.is_dir():
        fix = f"{folder} is a file, not a folder: rename or remove it"
    else:
        fix = f"make {folder}/ a folder you can write to (e.g. chmod u+w {folder})"
    reason = error.strerror or str(error)
    return ResetError(
        f"cannot save your version under {folder}/ ({reason}); nothing was changed: {fix},"
        " then run make reset again"
    )


def backup(kata: manifest.Kata, content: bytes, now: datetime | None = None) -> Path:
    """Save `content` as a new file under backups/, never overwriting one; returns its path."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    try:
        return _write_backup(kata, content, stamp)
    except OSError as error:
        raise _backup_problem(error) from error


def _write_backup(kata: manifest.Kata, content: bytes, stamp: str) -> Path:
    paths.BACKUPS.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        target = paths.BACKUPS / f"{kata.module}-{stamp}{suffix}.py"
        try:
            with target.open("xb") as f:  # "x": never overwrite an existing file
                try:
                    f.write(content)
                except OSError:  # a full disk: no half backup left behind
                    target.unlink(missing_ok=True)
                    raise
        except FileExistsError:
            continue
        if target.read_bytes() != content:
            raise OSError(f"the backup {target} could not be written intact; nothing was reset")
        return target
    raise OSError(f"too many backups of {kata.module} at {stamp}; nothing was reset")


def reset(kata: manifest.Kata, now: datetime | None = None) -> str:
    """Restore the pristine stub of `kata` (backing up your version first); returns
    what happened, for the learner."""
    exercise = kata.exercise_file
    shown = paths.shown(exercise)
    pristine = stubs.stub_source(kata)
    if not exercise.is_file():
        outputs.write_text(exercise, pristine)
        return f"{shown} was missing; the pristine stub is back (there was nothing to back up)."
    mine = exercise.read_bytes()
    if mine == pristine.encode("utf-8"):
        return f"{shown} is already the pristine stub: nothing to back up, nothing changed."
    saved = paths.shown(backup(kata, mine, now))
    try:
        outputs.write_text(exercise, pristine)
    except OSError as error:
        raise ResetError(
            f"your version is saved as {saved}, but {shown} could not be replaced"
            f" ({error.strerror or error}); make exercises/ writable and run make reset again"
        ) from error
    return (
        f"Your version of {shown} is saved as {saved} (backups are never deleted).\n"
        f"{shown} is the pristine stub again. To bring yours back: cp {saved} {shown}"
    )


def main(kata_name: str) -> int:
    print(reset(manifest.get(kata_name)))
    return 0
