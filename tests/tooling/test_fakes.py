"""Learner code cannot fake a pass or outlive the command: a forged record, a patched
test helper, a plugin registered by walking frames, a patched pytest runner are each
the kata *tampered* (reported as broken, never passed); a fork runaway is stopped with
its whole process group."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from gptkata.kata import manifest, stubs
from tests.tooling.cheats import FORGED_PASS, PATCHED_HELPERS, PATCHED_RUNTEST, PLUGIN
from tests.tooling.repo import exercise, gptkata, scratch, solve


@pytest.fixture
def root(tmp_path):
    return scratch(tmp_path, "tokenizer")


def _stub_with(root, code: str) -> None:
    stub = stubs.stub_source(manifest.get("tokenizer"))
    exercise(root, "tokenizer").write_text(stub + code)


@pytest.mark.parametrize(
    "code",
    [FORGED_PASS, PATCHED_HELPERS, PATCHED_RUNTEST, PLUGIN],
    ids=["forged-record", "patched-helpers", "patched-runtest", "frame-walking-plugin"],
)
def test_a_stub_that_fakes_a_pass_is_reported_tampered_never_passed(root, code):
    _stub_with(root, code)

    test, progress = gptkata(root, "test", "--kata", "tokenizer"), gptkata(root, "progress")

    assert test.returncode != 0, test.stdout
    assert "13 passed" not in test.stdout
    assert "tampered" in test.stdout or "tampered" in test.stderr, test.stdout[-800:]
    assert "done" not in next(
        line for line in progress.stdout.splitlines() if " tokenizer " in line
    )


def test_a_fork_runaway_is_stopped_and_leaves_no_process_behind(root):
    solve(root, "tokenizer")
    path = exercise(root, "tokenizer")
    # bounded: at most 40 forks in all, each child sleeping; a broken guard cannot run away
    path.write_text(
        path.read_text()
        + "\nimport os, time\n"
        + "def build_vocab(text):\n"
        + "    for _ in range(40):\n"
        + "        if os.fork() == 0:\n"
        + "            time.sleep(600)\n"
        + "            os._exit(0)\n"
        + "    return sorted(set(text))\n"
    )
    started = time.monotonic()
    run = gptkata(root, "test", "--kata", "tokenizer")
    assert time.monotonic() - started < 120, run.stdout
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(root)], capture_output=True, text=True)
    sleepers = [line for line in left.stdout.split() if line.isdigit() and int(line) != os.getpid()]
    assert sleepers == [], f"processes left behind: {sleepers}"


def test_a_skip_at_import_is_not_a_pass_and_the_kata_is_not_done(root):
    solve(root, "tokenizer")
    path = exercise(root, "tokenizer")
    path.write_text(
        path.read_text() + "\nimport pytest\npytest.skip('not today', allow_module_level=True)\n"
    )

    test, progress = gptkata(root, "test", "--kata", "tokenizer"), gptkata(root, "progress")

    assert test.returncode != 0
    assert "All tests of tokenizer pass" not in test.stdout
    row = next(line for line in progress.stdout.splitlines() if " tokenizer " in line)
    assert "done" not in row and "not written yet" not in row, row


def test_a_process_killed_by_sigkill_is_said_to_be_perhaps_out_of_memory(tmp_path):
    from gptkata.kata import runner

    said = runner._why_stopped(-9, [], tmp_path / "no-crash-file", None)
    assert "SIGKILL" in said and "out of memory" in said


def test_an_import_that_never_ends_is_stopped_once_for_the_whole_kata(root):
    solve(root, "tokenizer")
    path = exercise(root, "tokenizer")
    path.write_text(path.read_text() + "\nwhile True:\n    pass\n")

    started = time.monotonic()
    run = gptkata(root, "test", "--kata", "tokenizer")

    assert time.monotonic() - started < 60, run.stdout[-500:]
    assert run.returncode != 0 and "did not finish importing" in run.stdout


def test_a_learners_child_may_add_a_bounded_number_of_processes(monkeypatch):
    from gptkata.kata import supervisor

    set_to = {}
    monkeypatch.setattr(supervisor.os, "geteuid", lambda: os.getuid() or 4242)
    monkeypatch.setattr(supervisor.resource, "getrlimit", lambda which: (-1, -1))
    monkeypatch.setattr(supervisor.resource, "RLIM_INFINITY", -1)
    monkeypatch.setattr(
        supervisor.resource, "setrlimit", lambda which, limits: set_to.update({which: limits})
    )

    supervisor.limit_processes(more=100)

    soft, _ = set_to[supervisor.resource.RLIMIT_NPROC]
    assert 100 <= soft < 100 + 100_000  # what the user has now, plus 100
