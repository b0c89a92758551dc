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
