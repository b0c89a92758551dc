"""What a run of the kata tests says at its end: the functions still stubbed in the
current kata and the one next step, the welcome of a fresh clone, or what comes after
a kata that passes. The pytest plugin (gptkata.kata.pytest_plugin) prints these
lines; they are plain functions of the results, so they are tested on their own."""

from __future__ import annotations

from gptkata import paths
from gptkata.kata import manifest, progress, select, stubs
from gptkata.kata.results import (
    KATA_BROKEN,
    NOT_STARTED,
    TODO,
    KataState,
    Result,
    tally,
)


def summary_lines(results: list[Result]) -> list[str]:
    """The end of a run: the functions still stubbed in the current kata (one line
    each, with how many tests wait on it), then the next step - or, on a fresh clone,
    only the welcome. Later katas' stubs are left to `make progress`."""
    states = [s for s in tally(results) if s.results]
    now = next((s for s in states if s.unfinished), None)
    if now is None:
        return finished_lines(states, select.impl_name())
    # a fresh clone: every kata not started (its given validation may pass already)
    if all(s.state == NOT_STARTED for s in states) and now.kata == manifest.KATAS[0]:
        return ["", *welcome_lines(now.kata, _first_stub(now.kata))]
    hits: dict[str, int] = {}
    for r in results:
        if r.outcome == TODO and r.stub:
            hits[r.stub] = hits.get(r.stub, 0) + 1
    package = paths.ROOT / select.impl_name()
    todo = []
    if now.state != KATA_BROKEN and progress.blocker(now) is None:  # else: the earlier kata
        file = f"{package.name}/{now.kata.module}.py"
        todo = [(stub, f"{file}:{line}") for stub, line in stubs.remaining(package / file)]
        listed = {stub for stub, _ in todo}
        for r in now.results:  # stubs the tests hit that the file's scan did not find
            if r.outcome == TODO and r.stub and r.stub not in listed and r.where:
                listed.add(r.stub)
                todo.append((r.stub, r.where))
    lines = []
    if todo:
        lines += [
            "",
            f"Not implemented yet in kata {now.kata.name} (replace each `raise NotImplementedError`):",
        ]
        width = max(len(stub) for stub, _ in todo)
        for stub, where in todo:
            count = hits.get(stub, 0)
            waiting = {0: "", 1: "1 test stops here"}.get(count, f"{count} tests stop here")
            lines.append(f"  {stub:<{width}}  {where:<28} {waiting}".rstrip())
    later = sum(s.unfinished for s in states) - 1
    if later > 0:
        lines.append(f"  ({later} more katas to go after this one: make progress lists them)")
    lines.append("")
    if select.impl_name() == "exercises" and _just_after_gpt(now):
        lines += progress.your_gpt_lines(states, now)
    lines += progress.next_step_lines(now, select.chain_name(), select.impl_name())
    return lines


def _just_after_gpt(now: KataState) -> bool:
    """Whether `now` is the first kata with tests after kata 9: the learner has just
    finished their GPT."""
    gpt = next((k for k in manifest.KATAS if k.name == progress.YOUR_GPT), None)
    if gpt is None:  # a course without kata 9
        return False
    later = [k for k in manifest.KATAS[gpt.number :] if k.test_file.is_file()]
    return bool(later) and now.kata == later[0]


def _first_stub(kata: manifest.Kata) -> tuple[str, int] | None:
    """('tokenizer.build_vocab', 36): the first function still to write in `kata`."""
    left = stubs.remaining(paths.ROOT / select.impl_name() / f"{kata.module}.py")
    return left[0] if left else None


def finished_lines(states: list[KataState], impl: str = "exercises") -> list[str]:
    """After a run in which every test passed: what comes next. Against anything but
    the learner's exercises it says whose code passed, so nobody takes the reference's
    green run for their own."""
    if not states:
        return []
    if impl != "exercises":
        whose = "the reference solutions (solutions/)" if impl == "solutions" else impl
        names = ", ".join(s.kata.name for s in states)
        return ["", f"All tests pass against {whose}: {names}. Your own katas: make test"]
    last = states[-1].kata
    later = [k for k in manifest.KATAS[last.number :] if k.test_file.is_file()]
    names = ", ".join(s.kata.name for s in states)
    yours = [progress.TRAIN_YOURS] if any(s.kata.name == progress.YOUR_GPT for s in states) else []
    if not later:
        return ["", f"All tests pass ({names}). Check the whole path with make progress.", *yours]
    following = later[0]
    return [
        "",
        f"All tests of {names} pass. Next: kata {following.number}, {following.name} -"
        f" {following.title}",
        f"  read: make show KATA={following.name}    run: make test KATA={following.name}"
        "    or the whole path: make progress",
        *yours,
    ]


def welcome_lines(kata: manifest.Kata, first: tuple[str, int] | None = None) -> list[str]:
    """What a newcomer reads after their first `make test`: where to start, in a few
    lines (`first`: the first stub to replace and its line)."""
    file = f"exercises/{kata.module}.py"
    write = f"  2. replace each `raise NotImplementedError(...)` in {file} with your code"
    if first is not None:
        stub, line = first
        write = (
            f"  2. write {stub.split('.', 1)[1]} first: {file}, line {line} (replace its `raise`)"
        )
    return [
        f"Welcome to GPT Kata! {len(manifest.KATAS)} katas lead from single characters to a GPT;",
        "each is a file of stubs for you to fill in, checked by the tests.",
        f"Start with kata {kata.number}, {kata.name}: {kata.title}.",
        f"  1. read what to build:   make show KATA={kata.name}   (also the docstring of {file})",
        write,
        f"  3. check just this kata: make test KATA={kata.name}   (or on every save: make watch)",
        f"Stuck? make hint KATA={kata.name}    Where am I? make progress",
    ]
