"""Where things live in the repository. Every other module asks here.

`shown(path)` is how a message names a file: relative to the repository where it
lies inside it (exercises/tokenizer.py), as given anywhere else.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
KATA_TESTS = ROOT / "tests" / "katas"
DATA = ROOT / "data"
BACKUPS = ROOT / "backups"
RUNS = ROOT / "runs"
# A student edition ships without (most of) solutions/; its pristine stubs live here.
PRISTINE = ROOT / "gptkata" / "kata" / "pristine"


def shown(path: str | os.PathLike) -> str:
    """`path` as messages show it: relative to the repository, with forward slashes,
    where it lies inside (`exercises/tokenizer.py`, whatever the current folder);
    otherwise as given (`/tmp/run/ckpt.pt`, `<string>`).

    A path inside the repository may be given relative to the current folder, or
    reach it through a symbolic link: it is compared both as written (made absolute)
    and with its links resolved, since ROOT is the resolved folder."""
    written = Path(os.path.abspath(path))
    for candidate in (written, written.resolve()):
        if candidate.is_relative_to(ROOT):
            return candidate.relative_to(ROOT).as_posix()
    return str(path)
