"""The checks `make install` runs before it creates .venv/, with whatever Python is there.

    python gptkata/install.py python        stop, in one line, when this Python is too old
    python gptkata/install.py venv .venv    say whether .venv/ must be rebuilt (exit 0:
                                            rebuild it; exit 1: keep it)

Run as a file, not as part of the package, so that an old interpreter can run it: this
file uses nothing newer than Python 3.6 (the project itself needs 3.11 for tomllib).

A .venv/ left by a failed install is rebuilt when its interpreter is missing, does
not start, or is older than 3.11 (an install tried first with 3.10, say). One whose
interpreter is fine is kept: pip then completes what an interrupted install left.
"""

import os
import subprocess
import sys

NEEDED = (3, 11)


def too_old(version) -> bool:
    return tuple(version[:2]) < NEEDED


def python_problem(version, executable: str) -> str:
    """The one line that says why `version` cannot run the project; '' when it can."""
    if not too_old(version):
        return ""
    found = ".".join(str(part) for part in version[:3])
    major, minor = NEEDED
    return (
        f"GPT Kata needs Python {major}.{minor} or newer, and {executable} is {found}: "
        f"install a newer Python and run make install PYTHON=python{major}.{minor} (or newer)"
    )


def venv_problem(venv: str) -> str:
    """Why the virtualenv at `venv` must be rebuilt; '' when it can be kept (or is absent)."""
    if not os.path.lexists(venv):
        return ""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        return f"{venv} has no interpreter (a failed install?): rebuilding it"
    try:
        found = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:3])"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=True,
        ).stdout.split()
        version = tuple(int(part) for part in found)
    except (OSError, subprocess.SubprocessError, ValueError):
        return f"{venv}/bin/python does not start (a failed install?): rebuilding it"
    if too_old(version):
        shown = ".".join(str(part) for part in version)
        return f"{venv} was made with Python {shown}, too old: rebuilding it"
    return ""


def main(argv) -> int:
    if argv[:1] == ["python"]:
        problem = python_problem(sys.version_info, sys.executable)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    if argv[:1] == ["venv"] and len(argv) == 2:
        problem = venv_problem(argv[1])
        if problem:
            print(problem, file=sys.stderr)
            return 0
        return 1
    print("usage: python gptkata/install.py python | venv <folder>", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
