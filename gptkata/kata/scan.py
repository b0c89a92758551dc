"""A static look at a submission: the lines an instructor should read before signing
a grade. Flagged, never failed: a flag is a place to look, not a verdict.

    flags(folder) -> [{"file": "exercises/tokenizer.py", "line": 3, "what": "..."}]

What it looks for is what tampering with a test run needs: frames (to reach pytest's
plugin manager or the tests' locals), pytest's and pluggy's internals, an exit that
skips the interpreter's clean-up, ctypes (memory and C calls), /proc (other
processes' command lines and memory), the garbage collector's object lists, and
reading the reference solutions.
"""

from __future__ import annotations

import re
from pathlib import Path

from gptkata.kata import manifest, stubs

PATTERNS = (
    (r"\b_getframe\b|\bcurrentframe\b|\bf_back\b|\btb_frame\b|\bgi_frame\b", "frame walking"),
    (r"\b_pytest\b|\bpluggy\b|\bpluginmanager\b|\bregister\s*\(", "pytest internals"),
    (
        r"\bposix\s*\.\s*_exit\b|\bos\s*\.\s*_exit\b|\bos\s*\.\s*abort\b",
        "an exit that skips clean-up",
    ),
    (r"\bctypes\b|\bcffi\b", "ctypes (memory and C calls)"),
    (r"/proc\b", "/proc (other processes)"),
    (r"\bgc\s*\.\s*get_(objects|referrers|referents)\b", "the garbage collector's objects"),
    (r"\bsolutions\b|\bgptkata\b|\btests\s*\.\s*expect\b", "the harness or the references"),
    (
        r"__closure__|\bcell_contents\b|__self__|\bget_plugin\b|\bpytestPDB\b",
        "the harness's objects",
    ),
    (r"\bsettrace\b|\bsetprofile\b|\baddaudithook\b", "tracing or audit hooks"),
    (r"\bos\s*\.\s*(fork|kill|killpg|setsid)\b|\bsubprocess\b", "processes"),
)
_COMPILED = tuple((re.compile(pattern), what) for pattern, what in PATTERNS)
LIMIT = 50  # flags per submission: past that, one line says how many more


def _given_lines(module: str) -> set[str]:
    """The lines of the kata's pristine stub (what every student was given)."""
    try:
        kata = manifest.by_module(module)
    except ValueError:
        return set()
    return {line.strip() for line in stubs.stub_source(kata).splitlines()}


def flags(folder: Path, shown_as: str = "exercises") -> list[dict]:
    """Every line of the .py files in `folder` that matches a pattern, once per line;
    the lines of the given stub (e.g. its `from gptkata.kata.select import earlier`)
    are not flagged."""
    found: list[dict] = []
    for file in sorted(folder.glob("*.py")):
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        given = _given_lines(file.stem)
        for number, line in enumerate(text.splitlines(), start=1):
            code = line.split("#", 1)[0]
            if line.strip() in given:
                continue
            for pattern, what in _COMPILED:
                if pattern.search(code):
                    found.append(dict(file=f"{shown_as}/{file.name}", line=number, what=what))
                    break
    if len(found) > LIMIT:
        more = len(found) - LIMIT
        found = found[:LIMIT] + [dict(file="", line=0, what=f"{more} more flagged lines")]
    return found
