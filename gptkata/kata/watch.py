"""`make watch`: recheck your katas every time you save a file in exercises/.

After each save the screen shows the current kata's progress line, its first
failure in full (what came back, what was expected, why) and the function to edit.
The kata shown is the one you are on: KATA=, else the kata of the file you saved
last (one line says so when it changes), else the first one that is not done, so
watch moves on by itself when a kata is finished - and in every mode it guards the
katas already done: after each save every finished kata whose files changed (its
own, and under CHAIN=mine those it builds on) is checked again, and a kata that
breaks is shown first with a note (`Session`).

Each check runs in a fresh child of one warm process that imported torch, pytest and
hypothesis once (gptkata.kata.warm), so a save gets its verdict in about the time
the tests themselves take. A check that hangs is stopped at a time limit, one that
crashes is reported; either way watch carries on and checks again on the next save.
Unchanged katas are not rerun: their results come from the cache that `make
progress` shares (gptkata.kata.cache).

File events come from watchdog. Some filesystems never deliver them - a project on a
Windows drive under WSL (/mnt/c/...), network shares, some containers - so watch can
poll instead (look at the files once a second):

  make watch POLL=1                 or the environment variable GPTKATA_WATCH_POLL=1
  GPTKATA_WATCH_POLL=0              never poll, even where polling would be chosen

By default it polls under WSL when the project lives on a Windows drive, and falls
back to polling if file events cannot be set up at all.

Editors rarely save in one step: they write a temporary file, rename it, touch it
again. `Debouncer` waits until saves have been quiet for a moment and then runs the
tests once; `saved_path` ignores editor temporaries (.swp, ~ backups, .#locks,
JetBrains' ___jb_ files) and Python's own __pycache__. Both are plain functions of
their inputs (time is passed in), so they are tested without waiting for anything.
Watch only reads exercises/; it never writes there.
"""

from __future__ import annotations

import os
import queue
import sys
import time
from datetime import datetime
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from gptkata import paths
from gptkata.kata import cache, manifest, progress, warm
from gptkata.kata.results import DONE, NO_TESTS, KataState, Result, as_sentence, tally

QUIET_SECONDS = 0.15  # how long saves must be quiet before the tests run (an editor's burst)
POLL_SECONDS = 1.0
SAVE_EVENTS = {"created", "modified", "moved", "deleted", "closed"}  # not "opened": tests read


def saved_path(
    event_type: str, src_path: str, dest_path: str = "", is_directory: bool = False
) -> str | None:
    """The exercise file a file event saved (or removed), or None when the event is not
    a save of a kata module in exercises/ - an editor's temporary file, a directory,
    a cache file, a mere read."""
    if is_directory or event_type not in SAVE_EVENTS:
        return None
    path = Path(dest_path or src_path)
    name = path.name
    if path.suffix != ".py" or name.startswith((".", "#", "~")) or "___jb_" in name:
        return None
    if path.parent != paths.EXERCISES or name == "__init__.py":
        return None
    return str(path)


class Debouncer:
    """Gathers saves and says when a burst of them is over.

    `add(path, now)` notes a save; `ready(now)` is true once `quiet` seconds passed
    since the last one; `take()` hands over the saved paths and starts afresh.
    """

    def __init__(self, quiet: float = QUIET_SECONDS):
        self.quiet = quiet
        self.pending: set[str] = set()
        self.last: float | None = None

    def add(self, path: str, now: float) -> None:
        self.pending.add(path)
        self.last = now

    def ready(self, now: float) -> bool:
        return bool(self.pending) and now - self.last >= self.quiet

    def wait(self, now: float, longest: float = 1.0) -> float:
        """How long to wait for the next event before asking `ready` again."""
        if not self.pending:
            return longest
        return max(0.0, min(longest, self.last + self.quiet - now))

    def take(self) -> set[str]:
        saved, self.pending, self.last = self.pending, set(), None
        return saved


def should_poll(
    flag: bool, environ: dict[str, str], proc_version: str, root: Path
) -> tuple[bool, str]:
    """Whether to poll instead of waiting for file events, and why (shown to the learner)."""
    if flag:
        return True, "polling, as asked (POLL=1)"
    setting = environ.get("GPTKATA_WATCH_POLL", "").strip().lower()
    if setting in ("1", "true", "yes"):
        return True, "polling, as asked (GPTKATA_WATCH_POLL)"
    if setting in ("0", "false", "no"):
        return False, "file events, as asked (GPTKATA_WATCH_POLL=0)"
    if "microsoft" in proc_version.lower() and root.as_posix().startswith("/mnt/"):
        return True, "polling: WSL does not report saves on Windows drives"
    return False, "file events"


def after(kata: manifest.Kata, state: KataState, chosen: bool) -> manifest.Kata | None:
    """The kata to run next once `kata` has run: the following kata with tests when
    this one is done (and the learner did not pick it with KATA=), else None."""
    if chosen or state.state != DONE:
        return None
    later = [k for k in manifest.KATAS[kata.number :] if k.test_file.is_file()]
    return later[0] if later else None


def screen_lines(
    state: KataState, saved: set[str], how: str, chain: str, notes: list[str] = ()
) -> list[str]:
    """What watch shows after a run: the progress line, any notes (a regression, a
    kata just finished), the first failure, what to edit."""
    kata = state.kata
    when = datetime.now().strftime("%H:%M:%S")
    names = ", ".join(sorted(Path(p).name for p in saved)) or "(first run)"
    lines = [
        f"GPT Kata watch - kata {kata.number} of {len(manifest.KATAS)}   saved: {names} at {when}",
        "",
        *notes,
        progress.kata_line(state, is_current=True),
        "",
    ]
    problem = progress.blocker(state) or state.first_problem  # CHAIN=mine: the earlier kata
    if state.state == DONE:
        lines.append(f"Kata {kata.name} is done: all {state.total} tests pass.")
    elif problem is not None:
        lines.append(f"First failure: {as_sentence(problem.test_name)}")
        lines += [f"  {line}" for line in problem.details.strip().splitlines()]
        lines += ["", f"edit: {progress.what_to_edit(problem, kata)}"]
    also = " CHAIN=mine" if chain == "mine" else ""
    lines += [
        f"hint: make hint KATA={kata.name}    instructions: make show KATA={kata.name}"
        f"    everything: make progress{also}",
        "",
        f"Watching exercises/ ({how}). Save a file to rerun; Ctrl-C stops.",
    ]
    return lines


def failed_state(kata: manifest.Kata, message: str) -> KataState:
    """A kata whose check did not finish (a hang, a crash), as one failing result."""
    nodeid = f"tests/katas/{kata.test_file.name}::test_its_tests_run_to_the_end"
    return KataState(kata, [Result(nodeid, kata.name, "failed", message, details=message)])


class Session:
    """What watch knows between saves: each kata's last results and which katas were
    done, so a kata that was done and fails after a save is caught (a regression).

    `refresh` walks every kata in order: a kata whose files did not change keeps its
    results (from this session or the results cache), any other is checked again in a
    fresh child. A finished kata that fails now comes first, whatever the mode (KATA=
    too): the guard of finished katas is always on. Otherwise the kata shown is the
    one the learner is on: the one chosen with KATA=, else the kata of the file saved
    last (announced when it changes), else - and once that kata is done - the first
    kata that is not done.
    """

    def __init__(self, chosen: manifest.Kata | None, chain: str, run=None):
        self.chosen, self.chain = chosen, chain
        self.run = run or (
            lambda katas, chain, interrupted: warm.check(katas, chain, interrupted=interrupted)
        )
        self.done: set[str] = set()
        self.current: str | None = None
        self.followed: manifest.Kata | None = None  # the kata of the file saved last

    def katas(self) -> list[manifest.Kata]:
        return [k for k in manifest.KATAS if k.test_file.is_file()]

    def results(self, kata: manifest.Kata, interrupted) -> list[Result]:
        key = cache.key(kata, self.chain)
        stored = cache.lookup(kata, key, self.chain)
        if stored is not None:
            warm.remember(stored)  # its durations split the next check of the kata
            return stored
        fresh = self.run((kata,), self.chain, interrupted)
        if cache.key(kata, self.chain) == key:
            cache.store(kata, key, fresh, self.chain)
        return fresh

    def follow(self, saved: str | None) -> list[str]:
        """Note the kata of the file saved last; one line when it is a new one."""
        if saved is None or self.chosen is not None:
            return []
        try:
            kata = manifest.by_module(Path(saved).stem)
        except ValueError:
            return []
        if kata == self.followed or not kata.test_file.is_file():
            return []
        self.followed = kata
        return [f"Following your save: kata {kata.number}, {kata.name}."]

    def state_of(self, kata: manifest.Kata, interrupted) -> KataState:
        try:
            return tally(self.results(kata, interrupted), (kata,))[0]
        except warm.CheckFailed as error:
            return failed_state(kata, str(error))

    def refresh(self, interrupted=None, saved: str | None = None):
        """The kata to show (None when every kata is done) and notes to show."""
        notes = self.follow(saved)
        focus = self.chosen or self.followed
        first_open, shown = None, None
        for kata in self.katas():
            state = self.state_of(kata, interrupted)
            if state.state == DONE:
                if kata.name == self.current and kata.name not in self.done:
                    notes.append(f"Kata {kata.name} is done - on to the next one.")
                    if kata.name == progress.YOUR_GPT:
                        notes.append(progress.TRAIN_YOURS)
                self.done.add(kata.name)
            elif state.state != NO_TESTS and kata.name in self.done:
                self.done.discard(kata.name)
                notes.append(
                    f"Regression: kata {kata.number}, {kata.name}, passed before and fails now."
                    " It comes first again."
                )
                return self._show(state, notes)
            elif state.state != NO_TESTS and first_open is None:
                first_open = state
            if kata == focus:
                shown = state
        if shown is not None and (self.chosen is not None or shown.state != DONE):
            return self._show(shown, notes)
        if self.followed is not None and shown is not None:
            self.followed = None  # done: back to the first kata that is not
        return self._show(first_open, notes)

    def _show(self, state: KataState | None, notes: list[str]):
        self.current = state.kata.name if state is not None else None
        return state, notes + ([""] if notes and state is not None else [])


def _draw(lines: list[str]) -> None:
    if sys.stdout.isatty():
        print("\033[2J\033[H", end="")  # clear the screen, cursor to the top
    else:
        print("-" * 72)
    print("\n".join(lines), flush=True)


class _Saves(FileSystemEventHandler):
    """Puts the path of every saved exercise file into a queue."""

    def __init__(self, saves: queue.Queue):
        self.saves = saves

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = saved_path(
            event.event_type,
            os.fsdecode(event.src_path),
            os.fsdecode(getattr(event, "dest_path", "") or ""),
            event.is_directory,
        )
        if path:
            self.saves.put(path)


def _start_observer(poll: bool, saves: queue.Queue):
    """A running watchdog observer of exercises/: file events, or polling."""
    observer = PollingObserver(timeout=POLL_SECONDS) if poll else Observer()
    observer.schedule(_Saves(saves), str(paths.EXERCISES), recursive=False)
    observer.start()
    return observer


def _modified(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _wait_for_saves(saves: queue.Queue, debouncer: Debouncer) -> set[str]:
    """Block until a burst of saves is over; the saved paths."""
    while not debouncer.ready(time.monotonic()):
        try:
            path = saves.get(timeout=debouncer.wait(time.monotonic()))
        except queue.Empty:
            continue
        debouncer.add(path, time.monotonic())
    return debouncer.take()


def main(kata_name: str = "", chain: str = "reference", poll: bool = False) -> int:
    chosen = manifest.get(kata_name) if kata_name else None
    print("Loading torch and the tests once; every check after this one is quick...", flush=True)
    warm.warm_up()
    version = Path("/proc/version")
    proc_version = version.read_text() if version.is_file() else ""
    polling, how = should_poll(poll, dict(os.environ), proc_version, paths.ROOT)
    saves: queue.Queue[str] = queue.Queue()
    try:
        observer = _start_observer(polling, saves)
    except OSError as error:  # e.g. the system's limit of watched folders is reached
        observer = _start_observer(True, saves)
        how = f"polling: file events are unavailable ({error})"
    debouncer = Debouncer()
    session = Session(chosen, chain)
    saved: set[str] = set()
    try:
        while True:
            try:
                last = max(saved, key=_modified, default=None)
                state, notes = session.refresh(lambda: not saves.empty(), last)
            except warm.Interrupted:  # saved again while the tests ran: start over
                saved |= _wait_for_saves(saves, debouncer)
                continue
            if state is None:
                _draw(
                    [
                        *notes,
                        "Every kata passes: your GPT is complete. Train it: make train MINE=1",
                        "",
                        f"Watching exercises/ ({how}); Ctrl-C stops.",
                    ]
                )
            else:
                _draw(screen_lines(state, saved, how, chain, notes))
            saved = _wait_for_saves(saves, debouncer)
    except KeyboardInterrupt:
        print("\nWatch stopped.")
        return 0
    finally:
        observer.stop()
        observer.join()
