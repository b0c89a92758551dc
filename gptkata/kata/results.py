"""Test results, kata by kata: the one reading of a test run that every view shares.

The pytest plugin turns each test into a `Result` (and writes them as JSON when
GPTKATA_REPORT is set); `tally` groups them per kata, in manifest order, into a
`KataState` that knows how far the kata is:

  done         every test of the kata passes
  in progress  some tests pass, or some fail on the learner's code (k of n pass)
  not started  every test stops at a stub, except the bad-input tests that the given
               validation already passes (tests marked `bad_input`)
  broken       the kata's file does not import (a SyntaxError, a bad import, ...)
  no tests     the manifest lists the kata but it has no tests yet

The end-of-run summary of `make test`, `make progress`, `make watch` and
`make hint` all read progress from here, so they can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gptkata.kata import manifest

PASSED, TODO, BROKEN = "passed", "todo", "broken"
DONE, IN_PROGRESS, NOT_STARTED, KATA_BROKEN, NO_TESTS = (
    "done",
    "in progress",
    "not started",
    "broken",
    "no tests",
)
_TEST_FILE = re.compile(r"tests/katas/test_(\w+)\.py")


@dataclass
class Result:
    """One test's outcome, as the plugin reports it and the JSON report stores it."""

    nodeid: str
    kata: str | None  # the kata whose test file this is
    outcome: str  # passed | failed | skipped | todo | broken
    message: str  # one line; empty when passed
    stub: str | None = None  # 'kata.function' of the stub that was hit
    where: str | None = None  # file:line of the stub, or of the learner's line that failed
    function: str | None = None  # 'kata.function' to edit, when it is known
    details: str = ""  # the whole report, a few plain lines; empty when passed
    bad_input: bool = False  # a test of the given validation (marked `bad_input`)
    seconds: float = 0.0  # how long the test itself ran (its call phase)

    @property
    def test_name(self) -> str:
        """'test_decode_inverts_encode' for '.../test_tokenizer.py::test_decode_inverts_encode[x]'."""
        return self.nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


def kata_of(nodeid: str) -> str | None:
    """The kata whose test file holds the test `nodeid`."""
    match = _TEST_FILE.search(nodeid.replace("\\", "/"))
    return match.group(1) if match else None


# A name cannot hold an apostrophe, so the possessives of the kata tests' names are
# spelled without one ("the_seeds_ids") and given it back here.
POSSESSIVES = {"seeds": "seed's", "torchs": "torch's", "gpts": "GPT's", "lectures": "lecture's"}


def as_sentence(test_name: str) -> str:
    """'test_y_is_x_shifted_by_one' -> 'y is x shifted by one': test names are sentences;
    'test_encode_hola_gives_the_seeds_ids' -> "encode hola gives the seed's ids"."""
    words = test_name.removeprefix("test_").split("_")
    return " ".join(POSSESSIVES.get(word, word) for word in words)


@dataclass
class KataState:
    """How far one kata is, from the results of its tests."""

    kata: manifest.Kata
    results: list[Result] = field(default_factory=list)

    @property
    def counted(self) -> list[Result]:
        """Every test: a skipped one counts, as not passed (no kata test skips itself,
        so a skip comes from the code under test)."""
        return self.results

    @property
    def passed(self) -> int:
        return sum(r.outcome == PASSED for r in self.counted)

    @property
    def total(self) -> int:
        return len(self.counted)

    @property
    def state(self) -> str:
        if not self.counted:
            return NO_TESTS
        if any(r.outcome == BROKEN for r in self.counted):
            return KATA_BROKEN
        if self.passed == self.total:
            return DONE
        if all(r.outcome == TODO or (r.bad_input and r.outcome == PASSED) for r in self.counted):
            return NOT_STARTED
        return IN_PROGRESS

    @property
    def first_problem(self) -> Result | None:
        """The first test that does not pass (for a broken kata: the import error)."""
        broken = [r for r in self.counted if r.outcome == BROKEN]
        return next(iter(broken or [r for r in self.counted if r.outcome != PASSED]), None)

    @property
    def unfinished(self) -> bool:
        """Something to do here: a kata with tests that do not all pass yet."""
        return self.state in (IN_PROGRESS, NOT_STARTED, KATA_BROKEN)


def tally(results: list[Result], katas: tuple[manifest.Kata, ...] | None = None) -> list[KataState]:
    """One KataState per kata, in manifest order (all katas unless `katas` is given)."""
    states = {k.name: KataState(k) for k in (manifest.KATAS if katas is None else katas)}
    for r in results:
        if r.kata in states:
            states[r.kata].results.append(r)
    return list(states.values())


def current(states: list[KataState]) -> KataState | None:
    """The kata to work on now: the first one, in manifest order, that is not done."""
    return next((s for s in states if s.unfinished), None)
