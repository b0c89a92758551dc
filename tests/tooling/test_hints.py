"""`make hint`: the manifest's hints, one more each time, in order; AGAIN and RESTART."""

import json
import subprocess
import sys

import pytest

from gptkata import cli
from gptkata.kata import hints, manifest, progress
from gptkata.kata.results import KataState, Result
from tests.tooling.repo import scratch

TOKENIZER = manifest.get("tokenizer")


@pytest.fixture
def hint(copy, capsys):
    def ask(*options: str) -> str:
        assert cli.main(["hint", "--kata", "tokenizer", *options]) == 0
        return capsys.readouterr().out

    return ask


def shown(output: str) -> list[str]:
    """The hint texts in `output`, joined back from their wrapped lines."""
    texts, current = [], None
    for line in output.splitlines():
        if line.startswith("Hint "):
            current = []
            texts.append(current)
        elif current is not None and line.startswith("  "):
            current.append(line.strip())
        else:
            current = None
    return [" ".join(t) for t in texts]


def test_hints_are_revealed_one_at_a_time_in_manifest_order(hint):
    first, second, third, fourth = hint(), hint(), hint(), hint()

    assert shown(first) == list(TOKENIZER.hints[:1]) and "2 more hints" in first
    assert shown(second) == list(TOKENIZER.hints[:2]) and "1 more hint:" in second
    assert "Hint 2 of 3 (new)" in second
    assert shown(third) == list(TOKENIZER.hints) and "That was the last hint" in third
    assert shown(fourth) == list(TOKENIZER.hints) and "(new)" not in fourth


def test_again_shows_the_revealed_hints_without_a_new_one(hint):
    hint()
    again = hint("--again")

    assert shown(again) == list(TOKENIZER.hints[:1]) and "(new)" not in again
    assert hints.seen(TOKENIZER) == 1


def test_restart_hides_them_all_again(hint):
    hint(), hint()
    hint("--restart")

    assert hints.seen(TOKENIZER) == 0
    assert shown(hint()) == list(TOKENIZER.hints[:1])


def test_what_was_revealed_is_kept_in_an_ignored_state_file_not_in_exercises(hint, copy):
    hint()

    assert hints.state_file().is_file()
    assert hints.state_file().relative_to(copy).parts[0] == ".gptkata"


def test_the_next_step_counts_the_hints_still_hidden(hint):
    state = KataState(
        TOKENIZER, [Result("tests/katas/test_tokenizer.py::t", "tokenizer", "failed", "x")]
    )

    def stuck() -> str:
        return next(line for line in progress.next_step_lines(state) if "stuck:" in line)

    assert stuck().endswith(f"{len(TOKENIZER.hints)} hints, one at a time")
    hint()
    assert stuck().endswith(f"{len(TOKENIZER.hints) - 1} more hints")
    for _ in TOKENIZER.hints[1:]:
        hint()
    assert stuck().endswith("every hint seen (AGAIN=1 rereads them)")


def test_eleven_hints_at_once_are_all_counted(tmp_path):
    root = scratch(tmp_path)
    names = [k.name for k in manifest.KATAS]
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "gptkata", "hint", "--kata", name],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    errors = [c.communicate(timeout=300)[1] for c in commands]

    assert all(c.returncode == 0 for c in commands), errors
    counts = json.loads((root / ".gptkata" / "hints.json").read_text())
    assert counts == dict.fromkeys(names, 1)


@pytest.mark.parametrize("content", ["[]", "null", "-5", '{"tokenizer": -5}', '{"gpt": 1\n}: 1\n}'])
def test_a_malformed_state_file_is_set_aside_with_a_note_and_the_hints_start_over(
    copy, capsys, content
):
    hints.state_file().parent.mkdir(parents=True, exist_ok=True)
    hints.state_file().write_text(content)

    assert cli.main(["hint", "--kata", "tokenizer"]) == 0

    out, err = capsys.readouterr()
    assert shown(out) == list(TOKENIZER.hints[:1]) and "2 more hints" in out
    assert err.startswith("note: hints.json was not a table of hint counts") and "start over" in err
    kept = list(hints.state_file().parent.glob("hints.json.broken-*"))
    assert [k.read_text() for k in kept] == [content]
    assert json.loads(hints.state_file().read_text()) == {"tokenizer": 1}


def test_again_reads_a_malformed_state_file_as_nothing_revealed_and_says_so(copy, capsys):
    hints.state_file().parent.mkdir(parents=True, exist_ok=True)
    hints.state_file().write_text("[]")

    assert cli.main(["hint", "--kata", "tokenizer", "--again"]) == 0

    out, err = capsys.readouterr()
    assert "No hints revealed yet" in out and "note: hints.json" in err


def test_again_and_restart_together_are_a_one_line_error_that_changes_nothing(hint, capsys):
    hint()

    assert cli.main(["hint", "--kata", "tokenizer", "--again", "--restart"]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AGAIN=1" in err and "RESTART=1" in err
    assert hints.seen(TOKENIZER) == 1
