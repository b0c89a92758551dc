"""The README says what the project does: its kata table and its commands stay true."""

import re

from gptkata import paths
from gptkata.kata import manifest

README = (paths.ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (paths.ROOT / "Makefile").read_text(encoding="utf-8")


def test_the_kata_table_lists_the_manifest_in_order():
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+?) \|", README, flags=re.MULTILINE)
    listed = [(int(number), name, title) for number, name, title in rows]
    expected = [(k.number, k.name, k.title) for k in manifest.KATAS]
    assert listed == expected


def test_every_make_target_the_readme_mentions_exists():
    targets = set(re.findall(r"^([a-z][\w-]*):", MAKEFILE, flags=re.MULTILINE))
    # commands, as shown in code blocks (indented lines) or inline code (backticks)
    mentioned = set(re.findall(r"(?:^\s+|`)make ([a-z][\w-]*)", README, flags=re.MULTILINE))
    assert mentioned, "the README shows the make commands"
    assert mentioned <= targets, f"missing Makefile targets: {sorted(mentioned - targets)}"


MAX_LINES = 250


def section(text: str, heading: str) -> str:
    """The text of the `## heading` section, up to the next `## `."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_readme_is_short_enough_to_read_from_clone_to_a_trained_gpt():
    lines = README.count("\n")
    assert lines <= MAX_LINES, (
        f"README.md has {lines} lines; move what is not the learner's to docs/"
    )


def test_the_set_up_is_the_learners_clone_then_make_test_then_the_first_kata():
    setup = section(README, "Set up")
    clone, test, first = (setup.index(s) for s in ("git clone", "make test", "KATA=tokenizer"))
    assert clone < test < first
    assert "make check" not in setup, "make check is the maintainers' (docs/maintaining.md)"


def test_the_readme_names_the_learners_tools_and_how_to_run_them_without_make():
    for command in ("progress", "watch", "show", "hint", "reset", "train", "sample"):
        assert f"make {command}" in README
    assert "CHAIN=mine" in README and "IMPL=" in README
    assert "python -m gptkata test --kata tokenizer" in README
