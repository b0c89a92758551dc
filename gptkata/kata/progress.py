"""`make progress`: where you are on the path, and the one next step.

The kata tests run in a subprocess (gptkata.kata.runner), and the results they log are
read back (gptkata.kata.results). So nothing a learner writes can stop the view: a
file that does not import, exits, crashes or hangs only marks its own kata as broken.
The view shows

  every kata in manifest order with its state: done, in progress (k of n tests
  pass), not started, or broken (the import error and its file:line, in one line);
  an overall progress bar;
  the next step: the first kata that is not done, its first failing test in one
  line, the file and function to edit, and the commands that explain the kata,
  run just its tests, and give a hint.

Katas whose files did not change since the last run are not run again: their
results come from the results cache (gptkata.kata.cache), so after a save only the
katas that depend on the saved file run. CHAIN is respected (with CHAIN=mine later katas build on your own earlier work, so
an unfinished kata holds up the ones after it). Nothing under exercises/ is written.
"""

from __future__ import annotations

import sys

from gptkata import paths
from gptkata.kata import cache, hints, manifest, runner, select
from gptkata.kata.results import (
    DONE,
    KATA_BROKEN,
    NO_TESTS,
    NOT_STARTED,
    KataState,
    Result,
    as_sentence,
    current,
    tally,
)


class SuiteError(Exception):
    """The tests did not run at all (a broken test file, a broken harness)."""


def run(
    katas: tuple[manifest.Kata, ...] | None = None,
    chain: str = "reference",
    first_failure: bool = False,
) -> list[Result]:
    """Run the tests of `katas` (all by default) in manifest order, in a subprocess,
    and return their results. With `first_failure`, stop at the first test that does
    not pass: the katas before it are done, and its kata is the current one.

    A test during which the test process died (an exit, a crash, a hang) marks its
    kata broken; the tests of the katas after it are then run in a fresh process."""
    katas = manifest.KATAS if katas is None else katas
    files = [str(k.test_file.relative_to(paths.ROOT)) for k in katas if k.test_file.is_file()]
    if not files:
        return []
    problem = runner.corpus_problem()
    if problem:
        raise SuiteError(problem)
    extra = ["-p", "no:cacheprovider", *(["--exitfirst"] if first_failure else [])]
    results: list[Result] = []
    while files:
        outcome = runner.run(files, extra, chain=chain, capture=True)
        results += outcome.results
        if outcome.stopped_in is None:
            # pytest's exit codes: 0 all passed, 1 some failed, 5 no tests; others: it did not run
            if not outcome.complete or outcome.exitstatus not in (0, 1, 5):
                output = outcome.output.strip().splitlines()
                why = f" ({outcome.stopped})" if outcome.stopped else ""
                raise SuiteError(f"the kata tests did not run{why}:\n" + "\n".join(output[-15:]))
            break
        if first_failure:
            break
        stopped_file = outcome.stopped_in.split("::", 1)[0]
        files = files[files.index(stopped_file) + 1 :] if stopped_file in files else []
    return results


def current_kata(chain: str = "reference") -> manifest.Kata | None:
    """The first kata that is not done (None when every kata is): the stored results
    of unchanged katas (gptkata.kata.cache), then the tests of the rest in order up to
    the first one that does not pass."""
    keys, unknown = cache.Keys(), []
    for kata in manifest.KATAS:
        if not kata.test_file.is_file():
            continue
        stored = cache.lookup(kata, keys.key(kata, chain), chain)
        if stored is None:
            unknown = [k for k in manifest.KATAS[kata.number - 1 :]]
            break
        state = tally(stored, (kata,))[0]
        if state.unfinished:
            return kata
    state = (
        current(tally(run(tuple(unknown), chain=chain, first_failure=True))) if unknown else None
    )
    return state.kata if state else None


# Kata 9's GPT is the learner's first model worth training for real: once it is done,
# make train MINE=1 trains it (gptkata.lab.mine).
YOUR_GPT = "gpt"
TRAIN_YOURS = (
    "Your GPT (kata 9) is done: train it on the whole corpus with make train MINE=1 "
    "(about 2 minutes), then make sample MINE=1"
)


def your_gpt_lines(states: list[KataState], now: KataState | None) -> list[str]:
    """The line that points to make train MINE=1 once kata 9 is done, while the kata
    to work on (`now`) is a later one; [] otherwise."""
    gpt = next((s for s in states if s.kata.name == YOUR_GPT), None)
    if gpt is None or gpt.state != DONE or now is None or now.kata.number < gpt.kata.number:
        return []
    return [TRAIN_YOURS]


def bar(fraction: float, width: int) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def blocker(state: KataState) -> Result | None:
    """Under CHAIN=mine, the one thing that holds `state`'s kata up: the problem of the
    earliest kata it builds on whose code stopped one of its tests ('gpt waits for
    tokenizer: ...'), whatever failed first; None when nothing earlier does."""
    waiting = [(select.waits_for(r.message or ""), r) for r in state.results]
    found = [(manifest.get(w[1]).number, r) for w, r in waiting if w]
    return min(found, key=lambda pair: pair[0])[1] if found else None


def kata_line(state: KataState, is_current: bool = False) -> str:
    """' > 2 batching   in progress  [####--------]   4/12' - one kata, one line."""
    width = max(len(k.name) for k in manifest.KATAS)
    marker = ">" if is_current else " "
    head = f"{marker} {state.kata.number:>2} {state.kata.name:<{width}}  {state.state:<11}"
    held = blocker(state)
    if held is not None:  # CHAIN=mine: 'gpt waits for tokenizer: ...', whatever its counts
        return f"{head}  {held.message}"
    if state.state == KATA_BROKEN:
        return f"{head}  {state.first_problem.message}"
    if state.state == NO_TESTS:
        return f"{head}  (its tests are not written yet)"
    if state.state == NOT_STARTED and state.passed:  # only the given input checks pass
        return f"{head}  {bar(0.0, 12)} {state.passed:>3}/{state.total} (the given input checks)"
    return f"{head}  {bar(state.passed / state.total, 12)} {state.passed:>3}/{state.total}"


def _chain_note(chain: str) -> str:
    if chain == "mine":
        return "CHAIN=mine: later katas build on your own earlier katas"
    return "later katas build on the reference versions of earlier ones; CHAIN=mine uses yours"


def view_lines(states: list[KataState], chain: str = "reference") -> list[str]:
    """The whole progress view: the katas, the overall bar, the next step."""
    now = current(states)
    lines = [f"GPT Kata - your progress ({_chain_note(chain)})", ""]
    lines += [kata_line(s, s is now) for s in states]
    passed, total = sum(s.passed for s in states), sum(s.total for s in states)
    done = sum(s.state == DONE for s in states)
    lines += [
        "",
        f"Overall {bar(passed / total if total else 0.0, 30)}  "
        f"{passed} of {total} tests pass, {done} of {len(states)} katas done",
        "",
    ]
    if now is None:
        lines.append("Every kata passes: your GPT is complete. Train it: make train MINE=1")
    else:
        lines += your_gpt_lines(states, now) + next_step_lines(now, chain)
    return lines


def next_step_lines(
    state: KataState, chain: str = "reference", impl: str = "exercises"
) -> list[str]:
    """What to do now in the kata of `state`: at most seven lines. Against anything but
    exercises/ the files and commands name the implementation under test."""
    kata, problem = state.kata, blocker(state) or state.first_problem
    also = " CHAIN=mine" if chain == "mine" else ""
    rerun = f"    or rerun on every save: make watch{also}"  # watch follows exercises/ only
    if impl != "exercises":
        also, rerun = f" IMPL={select.impl_shown(impl)}{also}", ""
    lines = [
        f"Next: kata {kata.number}, {kata.name} ({state.passed} of {state.total} tests pass)"
        f" - {kata.title}"
    ]
    waiting = select.waits_for(problem.message) if problem else None
    if waiting:  # CHAIN=mine: fix the earlier kata; this one's file is fine
        first = manifest.get(waiting[1])
        lines += [
            f"  waits:   {problem.message}",
            f"  fix:     kata {first.number}, {first.name}, first ({select.impl_file(first.module, impl)}):"
            f" make test KATA={first.name}{also}",
        ]
    elif state.state == KATA_BROKEN:
        file = select.impl_file(kata.module, impl)
        start_over = (
            f", or start the kata over (your version is backed up first): make reset KATA={kata.name}"
            if impl == "exercises"
            else ""
        )
        lines += [f"  broken:  {problem.message}", f"  fix:     that line in {file}{start_over}"]
    else:
        label = "start:  " if state.state == NOT_STARTED else "failing:"
        lines.append(f"  {label} {as_sentence(problem.test_name)}: {problem.message}")
        lines.append(f"  edit:    {what_to_edit(problem, kata, impl)}")
    lines += [
        f"  read:    make show KATA={kata.name}    what to build, the shapes, what the tests check",
        f"  run:     make test KATA={kata.name}{also}{rerun}",
        f"  stuck:   make hint KATA={kata.name}    {_hints_left(kata)}",
    ]
    return lines


def _hints_left(kata: manifest.Kata) -> str:
    """'3 hints, one at a time', '2 more hints' or 'every hint seen (AGAIN=1 rereads them)'."""
    total, seen = len(kata.hints), hints.seen(kata)
    if seen == 0:
        return f"{total} hints, one at a time"
    left = total - seen
    return (
        f"{left} more hint{'s' if left > 1 else ''}"
        if left
        else "every hint seen (AGAIN=1 rereads them)"
    )


def what_to_edit(problem: Result, kata: manifest.Kata, impl: str = "exercises") -> str:
    """'exercises/tokenizer.py, function build_vocab (line 33)', as far as it is known
    (the file of the implementation under test)."""
    if not problem.function:
        return select.impl_file(kata.module, impl)
    owner, name = problem.function.split(".", 1)
    file = select.impl_file(manifest.get(owner).module, impl)
    line = ""
    if problem.where and problem.where.startswith(file + ":"):
        line = f" (line {problem.where.rsplit(':', 1)[1]})"
    return f"{file}, function {name}{line}"


def main(chain: str = "reference") -> int:
    def run_saying_so(katas: tuple[manifest.Kata, ...], chain: str) -> list[Result]:
        print("Running the kata tests...", flush=True)  # stdout: in order when piped
        return run(katas, chain)

    try:  # unchanged katas: stored results, and no line about running anything
        states = tally(cache.results(manifest.KATAS, chain, run_saying_so))
    except SuiteError as error:
        print(error, file=sys.stderr)
        return 1
    print("\n".join(view_lines(states, chain)))
    return 0
