"""`make release`: a student edition in which every learner command works."""

from __future__ import annotations

import re

import pytest

from gptkata import paths
from gptkata.kata import manifest, release, stubs
from tests.tooling.repo import gptkata

KATAS = [k.name for k in manifest.KATAS if k.test_file.is_file()]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "edition"
    release.release(out, ["tokenizer"])
    (out / "data" / "tinyshakespeare.txt").symlink_to(paths.DATA / "tinyshakespeare.txt")
    return out


def test_the_edition_has_stubs_and_only_the_named_solutions(edition):
    assert sorted(p.name for p in (edition / "solutions").glob("*.py")) == [
        "__init__.py",
        "tokenizer.py",
    ]
    for kata in manifest.KATAS:
        assert (edition / "exercises" / f"{kata.module}.py").read_text() == stubs.stub_source(kata)
    assert (edition / "gptkata" / "lab" / "mine.py").is_file()  # the lab, for the student's GPT
    assert not (edition / "gptkata" / "lab" / "attention_paths.py").exists()  # the reference's
    assert not (edition / "tests" / "tooling").exists()
    assert not (edition / "tests" / "lab").exists()
    assert not (edition / "gptkata" / "kata" / "grade.py").exists()


def test_the_editions_makefile_has_the_learner_commands_and_no_maintainer_ones(edition):
    text = (edition / "Makefile").read_text()
    for target in ("test", "progress", "watch", "show", "hint", "reset", "install", "data"):
        assert re.search(rf"^{target}:", text, re.M)
    for target in ("check", "grade", "release", "new-kata", "bench", "mutants"):
        assert not re.search(rf"^{target}:", text, re.M), target
    assert "gptkata.kata.mutants" not in text  # nor a comment or recipe left of one


def test_the_editions_make_train_and_sample_are_the_students_own_model(edition):
    text = (edition / "Makefile").read_text()

    assert re.search(r"^train:", text, re.M) and re.search(r"^sample:", text, re.M)
    assert re.search(r"^MINE\s*:= 1$", text, re.M), "MINE=1 always: there is no reference"
    assert "#   make train [MODEL=fused|modern]" in text and "train the reference" not in text
    readme = (edition / "README.md").read_text()
    train = readme[readme.index("## Train your GPT") : readme.index("## Without make")]
    assert "make train" in train and "solutions/" not in train and "PRESET" not in train
    assert "`make train` and `make sample` train and sample your own GPT" in readme


def test_a_wrong_answer_without_the_reference_is_one_line_not_an_internal_error(tmp_path):
    out = tmp_path / "edition"
    release.release(out, [])
    (out / "data" / "tinyshakespeare.txt").symlink_to(paths.DATA / "tinyshakespeare.txt")
    solution = manifest.get("tokenizer").solution_file.read_text()
    (out / "exercises" / "tokenizer.py").write_text(
        solution.replace("return sorted(set(text))", "return sorted(set(text))[::-1]")
    )

    run = gptkata(out, "test", "--kata", "tokenizer")

    assert run.returncode == 1
    assert "INTERNALERROR" not in run.stdout and "Traceback" not in run.stdout + run.stderr
    assert "build_vocab(text)" in run.stdout


def test_learner_commands_work_in_the_edition(edition):
    show = gptkata(edition, "show", "--kata", "attention")
    reset = gptkata(edition, "reset", "--kata", "tokenizer")
    hint = gptkata(edition, "hint", "--kata", "bigram")
    assert (show.returncode, reset.returncode, hint.returncode) == (0, 0, 0), show.stderr
    assert "already the pristine stub" in reset.stdout


def test_a_kata_without_earlier_references_says_once_it_uses_the_learners_work(edition):
    run = gptkata(edition, "test", "--kata", "attention")

    note = "attention uses your averaging kata: its reference is not part of this edition"
    assert run.stdout.count(note) == 1
    assert "INTERNALERROR" not in run.stdout


def test_the_ci_workflow_runs_each_kata_as_its_own_step(edition):
    text = (edition / ".github" / "workflows" / "katas.yml").read_text()
    assert text == release.to_yaml(release.workflow(KATAS)) + "\n"
    runs = re.findall(r"^\s+run: \"?(make test KATA=\w+)\"?$", text, re.M)
    assert runs == [f"make test KATA={name}" for name in KATAS]
    for line in text.splitlines():  # a minimal YAML check: 2-space indents, key: value or - item
        indent = len(line) - len(line.lstrip())
        assert indent % 2 == 0 and "\t" not in line
        assert re.match(r"^\s*(- )?[\w-]+:( .+)?$", line), line
    assert 'python-version: "3.11"' in text
