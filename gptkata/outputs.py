"""A run's output directory, and how every file gets into it: atomically.

A file that is being written is never at its final name. `write_atomically` writes a
temporary file in the same directory, flushes it to disk, and only then renames it
over the target with `os.replace`. A rename within one directory is atomic: a reader
(or a later `--resume`) sees the old file or the new one, never half of one. A crash
or an error while writing leaves the previous file as it was and removes the
temporary one.

Only `kill -9` or a power cut can stop a write before that clean-up runs; its
temporary file, `.<name>.<12 hex digits>.part`, then stays behind, and
`remove_unfinished` deletes such files. Call it only while no one else can be
writing into the folder (the trainer holds the folder's lock: gptkata.lab.rundir).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class OutputError(Exception):
    """The output directory cannot be created or written. One line, with the path."""


def prepare(folder: Path) -> Path:
    """Create `folder` if needed and prove that files can be written into it.

    The check writes and removes a small temporary file, so a run that cannot save
    its results fails at once, before training, rather than after it.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OutputError(
            f"cannot write to the output directory {folder} ({reason}); choose another with --out"
        ) from error
    return folder


UNFINISHED = re.compile(r"\..+\.[0-9a-f]{12}\.part")  # the temporary names below


def temporary_name(target: Path) -> Path:
    """Where `target` is written before it is renamed: `.<name>.<12 hex digits>.part`."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")


def remove_unfinished(folder: Path) -> list[str]:
    """Delete the temporary files of interrupted writes in `folder`; their names."""
    removed = []
    for path in sorted(Path(folder).iterdir()):
        if UNFINISHED.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(file)` on a temporary file beside `target`, then rename it to `target`."""
    target = Path(target)
    temporary = temporary_name(target)
    try:
        with open(temporary, "xb") as f:  # x: a new file, never an existing one
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def write_text(target: Path, text: str) -> Path:
    return write_atomically(target, lambda f: f.write(text.encode("utf-8")))


def finite(value):
    """`value` with every inf and nan float replaced by None: JSON has no such numbers
    (Python would write `Infinity`, which other JSON readers refuse)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def write_json(target: Path, value) -> Path:
    """`value` as indented JSON; an inf or nan is written as null."""
    return write_text(target, json.dumps(finite(value), indent=1, allow_nan=False) + "\n")
