"""`make show KATA=<name>`: instructions assembled from the docstring, the manifest,
the stubs still in the file and the test names."""

import ast
import re

import pytest

from gptkata import cli
from gptkata.kata import manifest, show
from gptkata.kata.results import as_sentence
from tests.tooling.repo import solve_all_but

TOKENIZER = manifest.get("tokenizer")


def test_instructions_come_from_the_docstring_the_manifest_the_stubs_and_the_tests(copy):
    text = "\n".join(show.instructions(TOKENIZER))

    assert text.startswith(f"Kata 1 of {len(manifest.KATAS)}: tokenizer - {TOKENIZER.title}")
    assert f"From the seed notebook: {TOKENIZER.seed}" in text
    assert ast.get_docstring(ast.parse(TOKENIZER.solution_file.read_text())) in text
    assert "build_vocab(text: str) -> list[str]" in text
    assert "The sorted list of distinct characters in `text`." in text
    tests = [
        n.name
        for n in ast.walk(ast.parse(TOKENIZER.test_file.read_text()))
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    ]
    assert len(tests) > 5
    for name in tests:
        assert f"  - {as_sentence(name)}\n" in text + "\n"
    assert "make test KATA=tokenizer" in text and "make hint KATA=tokenizer" in text


def test_only_the_functions_still_stubbed_are_listed(copy):
    solve_all_but(copy, "tokenizer", "decode")

    listed = [
        line.split()[2].split("(")[0]
        for line in show.instructions(TOKENIZER)
        if re.match(r"  line \d+ ", line)
    ]

    assert listed == ["decode"]


def test_a_functions_line_in_show_is_its_first_sentence_whole():
    doc = (
        "Three `nn.Linear(n_embd, head_size, bias=False)` called `key`, `query` and\n"
        "`value`. More detail\nthat is not shown.\n\nAnother paragraph."
    )
    lines = show.first_sentence(doc, width=40)
    assert " ".join(lines) == (
        "Three `nn.Linear(n_embd, head_size, bias=False)` called `key`, `query` and `value`."
    )
    assert all(len(line) <= 40 for line in lines)
    assert show.first_sentence("Mean loss, e.g. 2.47. Then more.") == ["Mean loss, e.g. 2.47."]


@pytest.mark.parametrize("names", [["tokenizer", "batching"], ["tokenizer,batching"]])
def test_several_kata_names_are_a_one_line_error_saying_kata_takes_one(names, capsys):
    assert cli.main(["show", "--kata", *names]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("python -m gptkata show: KATA= (--kata) names one kata, not")
    assert "the katas are: tokenizer, batching, bigram" in err
