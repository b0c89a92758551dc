"""A run's output folder: claimed by one run at a time, and never overwritten by accident.

Before a run trains, `claim` makes the folder its own:

1. It creates the folder and proves that files can be written into it
   (gptkata.outputs.prepare), so a run that could not save fails at once.
2. It takes the folder's lock, `.train.lock`, with `filelock`: an exclusive lock of
   the operating system on that file, held for the whole run. A second run into the
   same --out finds it held and stops, naming the process that holds it (from
   `.train.lock.owner`). The operating system drops a lock when its process dies,
   even by `kill -9`, so a lock left by a dead run is simply taken over; the stale
   owner file then says which run it was.
3. It removes the temporary files of a write that an earlier run never finished
   (`.<name>.<hex>.part`, see gptkata.outputs). Only now, holding the lock, is it
   sure that no one is still writing them.
4. A folder that already holds a checkpoint is another run's work. A new run (no
   --resume) stops there, unless --overwrite asks to start over: the earlier run's
   files then move to `previous-<n>/` inside the folder first, so nothing is lost.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import filelock
from tqdm import tqdm

from gptkata import outputs
from gptkata.lab.checkpoint import FILENAME

LOCK = ".train.lock"
OWNER = ".train.lock.owner"
# The files a run writes (gptkata.lab.train): what --overwrite moves aside.
RUN_FILES = (FILENAME, "log.json", "loss.png", "sample.txt", "attention.png")


@dataclass
class Claim:
    """An output folder held by this process until `release`."""

    folder: Path
    lock: filelock.BaseFileLock

    def release(self) -> None:
        try:
            (self.folder / OWNER).unlink(missing_ok=True)
        except OSError:  # a folder that became unwritable: the next run reads it as stale
            pass
        self.lock.release()


def pid_is_running(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # it exists but belongs to someone else / not a real pid
    return True


def read_owner(folder: Path) -> dict:
    """What the owner file says about the run holding (or last holding) the lock."""
    try:
        owner = json.loads((folder / OWNER).read_text(encoding="utf-8"))
        return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else {}
    except (OSError, ValueError):
        return {}


def lock(folder: Path) -> filelock.BaseFileLock:
    """The folder's lock, held; an OutputError naming its holder if another run has it."""
    held = filelock.FileLock(folder / LOCK, timeout=0)
    try:
        held.acquire()
    except filelock.Timeout:
        owner = read_owner(folder)
        who = f"process {owner['pid']}, started {owner.get('started', '?')}" if owner else "?"
        raise outputs.OutputError(
            f"another run ({who}) is writing into {folder}; wait for it to finish, or "
            "choose another --out"
        ) from None
    except OSError as error:
        raise outputs.OutputError(
            f"cannot lock the output directory {folder} ({error.strerror}); choose another --out"
        ) from error
    stale = read_owner(folder)
    if stale and stale["pid"] != os.getpid() and not pid_is_running(stale["pid"]):
        tqdm.write(
            f"note: took over {folder} from an earlier run (process {stale['pid']}) that died"
        )
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    outputs.write_json(folder / OWNER, {"pid": os.getpid(), "started": started})
    return held


def move_aside(folder: Path) -> Path:
    """Move the files of the run in `folder` into the first free `previous-<n>/`."""
    n = 1
    while (folder / f"previous-{n}").exists():
        n += 1
    backup = folder / f"previous-{n}"
    backup.mkdir()
    for name in RUN_FILES:
        if (folder / name).exists():
            os.replace(folder / name, backup / name)  # a rename: nothing is copied
    return backup


def claim(folder: Path, resume: bool = False, overwrite: bool = False) -> Claim:
    """Make `folder` this run's (see the module docstring); an OutputError saying what
    to do when it cannot be."""
    folder = outputs.prepare(folder)
    held = Claim(folder, lock(folder))
    try:
        removed = outputs.remove_unfinished(folder)
        if removed:
            tqdm.write(
                f"note: removed {len(removed)} unfinished file(s) of an interrupted write "
                f"from {folder}: {', '.join(removed)}"
            )
        if (folder / FILENAME).exists() and not resume:
            if not overwrite:
                raise outputs.OutputError(
                    f"{folder} already holds a checkpoint of an earlier run: continue it with "
                    "--resume, choose another --out, or start over with --overwrite (which "
                    f"first moves it to {folder}/previous-<n>/); with make, a flag goes in "
                    'ARGS: make train ARGS="--overwrite"'
                )
            tqdm.write(f"note: moved the earlier run's files to {move_aside(folder)}/")
    except OSError as error:
        held.release()
        raise outputs.OutputError(
            f"cannot prepare the output directory {folder} ({error.strerror or error}); "
            "choose another --out"
        ) from error
    except BaseException:
        held.release()
        raise
    return held
