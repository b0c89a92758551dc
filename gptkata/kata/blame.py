"""Which of the learner's lines and functions an exception points at: the frames of a
traceback that run kata code, the kata function a frame belongs to, a reference that
raised on what the learner's code passed it, and - for a ValueError from a kata's
given input check - the learner's own function that passed the refused value (their
`generate` calling `forward` with too long a context), which is the one to edit.
Used by gptkata.kata.pytest_plugin to write one line per problem."""

from __future__ import annotations

import traceback
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest, select, stubs


def at(frame) -> str:
    return f"{paths.shown(frame.filename)}:{frame.lineno}"


def frames_in(error: BaseException, folder: Path) -> list:
    """The frames of `error`'s traceback that run code of a file in `folder`."""
    folder = folder.resolve()
    frames = traceback.extract_tb(error.__traceback__)
    return [f for f in frames if Path(f.filename).resolve().parent == folder]


def qualified(frame) -> str | None:
    """'tokenizer.encode' for a frame in exercises/tokenizer.py, function encode: the
    function whose line it is, a given helper ('rope.RopeAttention._rope_table') too."""
    try:
        kata = manifest.by_module(Path(frame.filename).stem)
    except ValueError:
        return None
    try:
        own = stubs.function_at(Path(frame.filename).read_text(encoding="utf-8"), frame.lineno)
    except (OSError, UnicodeDecodeError):
        own = None
    if own:
        return f"{kata.name}.{own}"
    for qualified in stubs.stubbed_functions(kata):
        if qualified.rsplit(".", 1)[-1] == frame.name:
            return qualified
    return None


def reference_frame(error: BaseException):
    """The reference solution's frame that raised `error`, when the exception came from
    code in solutions/ called by the learner's code (CHAIN=reference); else None."""
    if select.impl_name() == "solutions":
        return None
    inside = {(paths.ROOT / select.impl_name()).resolve(), paths.SOLUTIONS.resolve()}
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if Path(f.filename).resolve().parent in inside
    ]
    if frames and Path(frames[-1].filename).resolve().parent == paths.SOLUTIONS.resolve():
        return frames[-1]
    return None


def in_given_code(frame) -> bool:
    """Whether `frame`'s line is given code of its kata's file (a helper, or the
    validation above `# -- your code below --`)."""
    try:
        kata = manifest.by_module(Path(frame.filename).stem)
        source = Path(frame.filename).read_text(encoding="utf-8")
    except (ValueError, OSError, UnicodeDecodeError):
        return False
    return stubs.in_given_code(source, frame.lineno, kata.name)


def given_check(mine: list, kata_name: str | None) -> tuple[str, str | None, object] | None:
    """For a ValueError whose innermost learner's frame is given code (a helper such
    as `_check_ids`, or the validation above `# -- your code below --`): the name of
    the public function whose check it is, the function to edit, and the learner's own
    frame that passed the refused value (their `generate` calling `forward`), if any:
    that function is the one to edit. Else None."""
    if not mine or kata_name is None or not in_given_code(mine[-1]):
        return None
    callers = [f for f in mine if not stubs.is_given(f.name) and f.name != "<module>"]
    if not callers:
        return None
    makers = [f for f in mine if f.name != "<module>" and not in_given_code(f)]
    maker = makers[-1] if makers else None
    function = qualified(maker or callers[-1])
    return callers[-1].name, function, maker
