"""Never lose work: no command but reset writes a byte under exercises/, and watch
reruns the tests when a kata file is saved."""

import os
import subprocess
import sys
import threading

from tests.tooling.repo import digest, gptkata, scratch, solve, solve_all_but


def test_no_command_but_reset_changes_exercises(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    solve_all_but(root, "tokenizer", "decode")
    before = digest(root / "exercises")

    printed = {}
    for command in (
        ["progress"],
        ["test", "--kata", "tokenizer"],
        ["show", "--kata", "tokenizer"],
        ["hint"],  # without KATA: finds the current kata first
        ["hint", "--kata", "tokenizer", "--again"],
        ["hint", "--kata", "tokenizer", "--restart"],
    ):
        run = gptkata(root, *command)
        assert run.returncode in (0, 1), (command, run.stdout, run.stderr)
        assert digest(root / "exercises") == before, command
        printed[" ".join(command)] = run.stdout
    assert "The current kata is tokenizer" in printed["hint"]

    run = gptkata(root, "reset", "--kata", "tokenizer")

    assert run.returncode == 0 and "backups/tokenizer-" in run.stdout
    assert digest(root / "exercises") != before
    assert list((root / "backups").iterdir())


def read_screen(watching: subprocess.Popen) -> str:
    """Watch's output up to the end of its next screen (or until it exits)."""
    lines = []
    for line in watching.stdout:
        lines.append(line)
        if line.startswith("Watching exercises/"):
            break
    return "".join(lines)


def test_watch_reruns_the_kata_when_its_file_is_saved_and_writes_nothing(tmp_path):
    root = scratch(tmp_path, "tokenizer")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPTKATA_")}
    watching = subprocess.Popen(
        [sys.executable, "-m", "gptkata", "watch", "--kata", "tokenizer", "--poll"],
        cwd=root,
        env=dict(env, HYPOTHESIS_PROFILE="fast"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    guard = threading.Timer(120, watching.kill)  # a hung watch fails the test, never the suite
    guard.start()
    try:
        first = read_screen(watching)
        assert "not started" in first and "not implemented yet: tokenizer." in first
        assert "Watching exercises/ (polling, as asked (POLL=1))" in first

        solve(root, "tokenizer")
        saved = digest(root / "exercises")
        second = read_screen(watching)

        assert "saved: tokenizer.py" in second
        assert "Kata tokenizer is done: all 13 tests pass." in second
        assert digest(root / "exercises") == saved
    finally:
        guard.cancel()
        watching.kill()
        watching.wait()
