"""A run's output directory, and how every file gets into it: atomically.

A file that is being written is never at its final name. `write_atomically` writes a
temporary file in the same directory, flushes it to disk, and only then renames it
over the target with `os.replace`. A rename within one directory is atomic: a reader
(or a later `--resume`) sees the old file or the new one, never half of one. A crash
or an error while writing leaves the previous file as it was and removes the
temporary one.
"""

from __future__ import annotations

import json
import os
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


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(file)` on a temporary file beside `target`, then rename it to `target`."""
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
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


def write_json(target: Path, value) -> Path:
    return write_text(target, json.dumps(value, indent=1) + "\n")
