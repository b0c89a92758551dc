"""`make hint`: the manifest's hints, one more each time, in order; AGAIN and RESTART."""

import pytest

from gptkata import cli
from gptkata.kata import hints, manifest

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
