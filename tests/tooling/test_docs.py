"""The README and docs/ stay true: every `make` command they show exists with the
variables and flags it passes, every relative link leads to a file, every doc says
whom it is for, and the preset table of docs/lab.md is the presets module's.

Each checker is a plain function of text, tested first on a line or a table that is
known to be wrong, so that a checker that cannot fail is caught too."""

from __future__ import annotations

import re

import pytest

from gptkata import paths
from gptkata.lab import presets
from tests.tooling.doc_checks import (
    DOC_IDS,
    DOCS,
    MAKEFILE,
    code_commands,
    gptkata_command_problems,
    gptkata_commands,
    help_flags,
    help_of,
    lab_module_problems,
    link_problems,
    make_command_problems,
    make_commands,
    makefile_targets,
    makefile_variables,
    preset_table_problems,
    real_flags,
)

FAKE_TARGETS = {"test", "train"}
FAKE_VARIABLES = {"KATA", "ARGS", "PRESET"}
FAKE_FLAGS = {"train": {"--seed", "--help"}}


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("make tets KATA=tokenizer", "no target 'tets'"),
        ("make test KATAS=tokenizer", "never reads KATAS="),
        ('make train ARGS="--seed 7 --no-such-flag 1"', "no flag --no-such-flag"),
        ("make train ARGS=--sede", "no flag --sede"),
        ("make train PRESET=cpu LR=3", "never reads LR="),
    ],
)
def test_the_make_checker_names_what_is_wrong(command, problem):
    problems = make_command_problems(command, FAKE_TARGETS, FAKE_VARIABLES, FAKE_FLAGS)
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize(
    "command",
    [
        "make test KATA=tokenizer",
        'make train PRESET=cpu ARGS="--seed 7 --help"',
        'X_CAP=avx2 make train ARGS="--seed 7"',  # the environment is not the Makefile's
        "make test ARGS=\"--prompt 'KATAS=1'\"",  # what is inside ARGS is no variable
    ],
)
def test_the_make_checker_passes_what_is_right(command):
    assert make_command_problems(command, FAKE_TARGETS, FAKE_VARIABLES, FAKE_FLAGS) == []


def test_the_make_checker_knows_the_real_makefile_and_flags():
    targets, variables = makefile_targets(MAKEFILE), makefile_variables(MAKEFILE)
    bad = 'make train PRESET=cpu ARGS="--max-step 10"'  # the flag is --max-steps
    assert make_command_problems(bad, targets, variables, real_flags()) == [
        f"{bad!r}: make train has no flag --max-step"
    ]
    good = "make sample ARGS=\"--prompt 'Speak:' --top-p 0.9 --heatmap\""
    assert make_command_problems(good, targets, variables, real_flags()) == []


def test_commands_are_found_in_fences_indented_code_and_inline_code():
    text = (
        "Run `make test\nKATA=tokenizer` first.\n\n"
        '    make train ARGS="--seed 1"   # a comment with make nothing\n'
        "    ATEN=avx2 \\\n        make sample\n"
        "    make grade SUBMISSIONS=s/ [OUT=grades/]\n"
        "               [JOBS=n]\n\n"
        "```\nmake watch POLL=1\n```\n"
        "  make prose, indented by two, is no code\n"
    )
    assert make_commands(text) == [
        'make train ARGS="--seed 1"',
        "ATEN=avx2 make sample",
        "make grade SUBMISSIONS=s/ [OUT=grades/] [JOBS=n]",
        "make watch POLL=1",
        "make test KATA=tokenizer",
    ]


def test_the_link_checker_names_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "lab.md").write_text("# The lab\n\n## The presets\n")
    source = tmp_path / "README.md"
    text = (
        "[ok](docs/lab.md) [ok](docs/lab.md#the-presets) [web](https://example.org)\n"
        "[gone](docs/labs.md) [no heading](docs/lab.md#presets) [out](../elsewhere.md)\n"
    )
    assert link_problems(text, source, tmp_path) == [
        "README.md: docs/labs.md does not exist",
        "README.md: docs/lab.md#presets names no heading",
        "README.md: ../elsewhere.md leads out of the repository",
    ]


def test_the_preset_checker_names_a_wrong_size_and_a_missing_preset():
    lab = (paths.ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    assert preset_table_problems(lab, presets.PRESETS) == []
    wider = {**presets.PRESETS, "cpu": presets.override(presets.PRESETS["cpu"], n_embd=128)}
    assert preset_table_problems(lab, wider) == [
        "preset cpu: channels shows '96', the preset: '128'"
    ]
    more = {**presets.PRESETS, "tiny": presets.PRESETS["bigram"]}
    assert len(preset_table_problems(lab, more)) == 1
    timed = {
        **presets.PRESETS,
        "nanogpt": presets.override(presets.PRESETS["nanogpt"], max_seconds=60.0),
    }
    assert preset_table_problems(lab, timed) == [
        "preset nanogpt: budget shows '2,000 steps', the preset: '60 s'"
    ]


# -- the docs themselves -----------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_make_command_names_a_target_variables_and_flags_that_exist(doc):
    targets, variables = makefile_targets(MAKEFILE), makefile_variables(MAKEFILE)
    flags = real_flags()
    problems = [
        problem
        for command in make_commands(doc.read_text(encoding="utf-8"))
        for problem in make_command_problems(command, targets, variables, flags)
    ]
    assert problems == []


def test_the_docs_show_make_train_and_make_sample_with_flags():
    """The checks above see the commands at all: both commands appear with ARGS."""
    commands = [c for doc in DOCS for c in make_commands(doc.read_text(encoding="utf-8"))]
    for target in ("train", "sample"):
        with_flags = [c for c in commands if f"make {target} " in c and "ARGS=" in c]
        assert len(with_flags) >= 2, f"make {target} ARGS=... is shown in the docs"


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_python_m_gptkata_command_exists_with_its_flags(doc):
    text = doc.read_text(encoding="utf-8")
    shown = code_commands(text) + re.findall(r"`([^`]*-m gptkata[ .][^`]*)`", text)
    problems = [
        problem
        for command in shown
        for problem in gptkata_command_problems(
            command, gptkata_commands(), lambda name: help_flags(help_of("gptkata", name))
        )
        + lab_module_problems(command, lambda module: help_flags(help_of(module)))
    ]
    assert problems == []


def test_the_gptkata_checker_names_a_missing_command_and_flag():
    def flags_of(name):
        return {"--kata", "--help"}

    assert gptkata_command_problems("python -m gptkata tset", {"test"}, flags_of) == [
        "'python -m gptkata tset': python -m gptkata has no command 'tset'"
    ]
    assert gptkata_command_problems("python -m gptkata test --kat x", {"test"}, flags_of) == [
        "'python -m gptkata test --kat x': python -m gptkata test has no flag --kat"
    ]
    assert gptkata_command_problems("python -m gptkata test --kata x", {"test"}, flags_of) == []
    torchrun = "torchrun --nproc_per_node=2 -m gptkata.lab.train --preset cpu --kata x"
    assert lab_module_problems(torchrun, lambda module: {"--preset"}) == [
        f"{torchrun!r}: gptkata.lab.train has no flag --kata"
    ]


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_every_relative_link_leads_to_a_file(doc):
    assert link_problems(doc.read_text(encoding="utf-8"), doc, paths.ROOT) == []


@pytest.mark.parametrize("doc", DOCS[1:], ids=DOC_IDS[1:])
def test_every_doc_starts_with_whom_it_is_for(doc):
    title, blank, who, after = doc.read_text(encoding="utf-8").splitlines()[:4]
    assert title.startswith("# ") and blank == "" and after == ""
    assert who.startswith("For "), f"{doc.name}: the line after the title says whom it is for"


def test_the_readme_points_to_every_doc():
    readme = DOCS[0].read_text(encoding="utf-8")
    for doc in DOCS[1:]:
        assert f"](docs/{doc.name})" in readme, f"the README links to docs/{doc.name}"


def test_the_preset_table_of_the_lab_doc_is_the_presets_module():
    lab = (paths.ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    assert preset_table_problems(lab, presets.PRESETS) == []
