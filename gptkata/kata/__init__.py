"""The learning harness: everything a learner's or an instructor's command runs through.

    katas.toml      the one ordered manifest of katas: names, titles, hints
    manifest.py     reads it; every other module asks here which katas exist
    select.py       the seam: which implementation the tests import (exercises or
                    solutions) and where a kata's earlier pieces come from
    pytest_plugin.py, blame.py, results.py
                    one line per problem instead of a traceback, and the results file
                    that the views below read back
    next_step.py    the end of a run: stubs left in the current kata, the next step,
                    the welcome of a fresh clone
    runner.py, supervisor.py, recorder.py
                    the one way tests run: a supervised child in its own process group
                    (a sandbox when grading), its record over a signed pipe, limits in
                    processor time; an exit, a crash or a hang in learner code is its
                    kata broken, never a pass
    isolation.py    the bubblewrap sandbox that grading runs each submission in
    limits.py       every test's time limit, and the one line that reports it
    progress.py, watch.py, show.py, hints.py, reset.py
                    the learner's commands (`make progress`, `watch`, `show`, `hint`,
                    `reset`)
    deps.py         which katas each kata's tests use (read from the sources)
    cache.py        results kept under a hash of every file they depend on
    warm.py         one warm process, a fresh forked child per check (make watch)
    stubs.py        makes exercises/ from solutions/
    checks.py       the maintainer checks of `make check` (mirror, stubs)
    authoring.py    `make new-kata`, and the authoring check that runs first in make check
    speed.py        `make speed`: how long the tests take
    grade.py, grade_report.py, grade_html.py, roster.py, scan.py, grade_bench.py
                    `make grade`: a class graded in sandboxes; the CSV, JSON and JUnit
                    reports and the HTML class report; the roster that names the
                    students; the static scan that flags lines to read; the
                    60-submission benchmark
    sandbox.py      the in-process guards: fingerprints of the harness, audit hooks
    release.py      `make release`: a student edition without the solutions

A newcomer starts with manifest.py and select.py. May import: the shared modules in
gptkata/ (paths, data, outputs) and the standard library, pytest and hypothesis. Never
the lab (gptkata.lab): a learner's feedback must not depend on the trainer.
"""
