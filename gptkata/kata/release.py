"""`make release OUT=<dir> [SOLUTIONS=kata,kata]`: the student edition of the course.

A folder ready to push as the course's template repository:

  exercises/    the pristine stubs            tests/    the kata suite (no tooling tests)
  gptkata/      the harness, the shared modules and the lab: `make train` and
                `make sample` train and sample the student's own GPT (MINE=1 is
                always on: there is no reference to train)
  gptkata/kata/pristine/   each kata's pristine stub, for `make reset`, `make show` and
                the reports, which read the solution where there is one
  solutions/    only the katas named in SOLUTIONS= (none by default)
  Makefile, README.md, docs/ (the README's links), pyproject.toml, data/README.md,
  .gitignore
  .github/workflows/katas.yml   CI for student forks: `make test KATA=<name>`, one step
                per kata, each run whatever the one before did

Every learner command works in it: test, progress, show, hint, watch, reset, train,
sample. A kata whose earlier pieces have no reference in the edition builds on the
learner's own earlier work and says so once. The maintainer checks (`make check`: mirror, stubs),
grading, releasing and authoring are not part of it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest, stubs

LEFT_OUT = ("__pycache__", "lab", "tooling", "pristine")  # of tests/
MAINTAINER_MODULES = (
    "grade.py",
    "grade_report.py",
    "grade_bench.py",
    "release.py",
    "authoring.py",
    "scan.py",
    "roster.py",
    "grade_html.py",
    "mutants.py",
    "equivalents.py",
    "attention_paths.py",  # the lab's kernels for the reference's attention
)
MAINTAINER_TARGETS = (
    "bench",
    "bench-nanogpt",
    "speed",
    "mutants",
    "check",
    "grade",
    "release",
    "new-kata",
)
EDITION_NOTE = """
> **Student edition.** This copy of GPT Kata has the katas, the tests and every
> learner command (`make test`, `progress`, `show`, `hint`, `watch`, `reset`). The
> reference solutions are not part of it{kept}, so a later kata builds on your own earlier
> katas and says so. `make train` and `make sample` train and sample your own GPT,
> built from your katas: there is no reference to train. The docs for instructors and
> maintainers, and the lab's presets, describe the course repository.
"""
# The README's section on training, as the edition has it: only the student's own model.
EDITION_TRAINING = """## Train your GPT

Once your GPT passes kata 9, train it on the whole corpus and let it write:

    make train                    # your GPT, about 2 minutes on 2 CPU cores, into runs/mine/
    make sample                   # more text from it (ARGS="--prompt 'Speak:' --seed 7")

It is your code that runs - your model, and your tokenizer, batches, optimiser and
sampling where those katas are done (the run starts with a table that says whose
code runs for each part). `MODEL=fused` or `MODEL=modern` trains kata 10's or kata
16's model instead. This edition has no reference model to train.

"""
# The edition's Makefile trains the student's own model: MINE=1 is always on.
EDITION_MINE = "# an edition has no reference to train: MINE=1, always\nMINE   := 1\n"
EDITION_HELP = (
    '#   make train [MODEL=fused|modern] [ARGS="..."]   train your own GPT into runs/mine/\n'
    '#   make sample [ARGS="..."]   sample text from it\n'
)


def workflow(katas: list[str]) -> dict:
    """The GitHub Actions workflow of the edition, as a structure (see `to_yaml`)."""
    steps = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.11"}},
        {"name": "install", "run": "make install"},
        {"name": "corpus", "run": "make data"},
    ]
    for name in katas:
        steps.append({"name": f"kata {name}", "if": "always()", "run": f"make test KATA={name}"})
    return {
        "name": "katas",
        "on": {"push": None, "pull_request": None},
        "jobs": {"katas": {"runs-on": "ubuntu-latest", "steps": steps}},
    }


def to_yaml(value, indent: int = 0) -> str:
    """A small YAML writer for mappings, lists and plain strings (all this needs)."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}:{'' if item is None else ' ' + _scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            text = (
                to_yaml(item, indent + 1)
                if isinstance(item, dict)
                else "  " * (indent + 1) + _scalar(item)
            )
            lines.append(f"{pad}- {text.lstrip()}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(value) -> str:
    text = str(value)
    special = re.search(r"[:#{}\[\],&*?|<>=!%@`'\"]", text) or re.fullmatch(r"[\d.]+", text)
    return f'"{text}"' if special or not text else text


def makefile(text: str) -> str:
    """The course Makefile without the maintainers' targets and their help lines, and
    with `make train` and `make sample` for the student's own model (MINE=1)."""
    text = re.sub(r"^MINE\s*\?=.*\n", EDITION_MINE, text, flags=re.M)
    start = re.search(r"^#\s+make train\b", text, re.M).start()
    end = re.search(r"^#\s+make sample\b.*\n", text, re.M).end()
    text = text[:start] + EDITION_HELP + text[end:]
    blocks = text.split("\n\n")
    kept = [
        b
        for b in blocks
        if not any(re.search(rf"^{re.escape(t)}:", b, re.M) for t in MAINTAINER_TARGETS)
    ]
    lines = "\n\n".join(kept).splitlines()
    words = "|".join(re.escape(t) for t in MAINTAINER_TARGETS)
    lines = [line for line in lines if not re.match(rf"^#\s+make ({words})\b", line)]
    lines = [line for line in lines if not re.match(r"^#\s{10,}\S", line) or "POLL" in line]
    phony = "install data test lint progress watch show hint reset train sample"
    text = "\n".join(lines) + "\n"
    return re.sub(r"\.PHONY:(?:[^\n]*\\\n)*[^\n]*", f".PHONY: {phony}", text)


def readme(text: str, solutions: list[str]) -> str:
    """The course README as the edition has it: the edition's note under the title, and
    the section on training about the student's own model only."""
    kept = f" (except {', '.join(solutions)})" if solutions else ""
    title, _, rest = text.partition("\n")
    start = rest.index("## Train your GPT\n")
    end = rest.index("\n## ", start + 1) + 1
    rest = rest[:start] + EDITION_TRAINING + rest[end:]
    return f"{title}\n{EDITION_NOTE.format(kept=kept)}{rest}"


def release(out: Path, solutions: list[str]) -> list[str]:
    """Write the edition to `out` (which must not exist yet); returns what it says."""
    for name in solutions:
        manifest.get(name)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"OUT={out} is not empty: name a new folder for the edition")
    ignore = shutil.ignore_patterns("__pycache__", "pristine", *MAINTAINER_MODULES)
    shutil.copytree(paths.ROOT / "gptkata", out / "gptkata", ignore=ignore)
    shutil.copytree(paths.ROOT / "tests", out / "tests", ignore=shutil.ignore_patterns(*LEFT_OUT))
    for folder in ("exercises", "solutions", "data", "gptkata/kata/pristine", ".github/workflows"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for package in ("exercises", "solutions"):
        shutil.copy2(paths.ROOT / package / "__init__.py", out / package / "__init__.py")
    for kata in manifest.KATAS:
        stub = stubs.stub_source(kata)
        (out / "exercises" / f"{kata.module}.py").write_text(stub, encoding="utf-8")
        (out / "gptkata" / "kata" / "pristine" / f"{kata.module}.py").write_text(
            stub, encoding="utf-8"
        )
        if kata.name in solutions:
            shutil.copy2(kata.solution_file, out / "solutions" / f"{kata.module}.py")
    if (paths.ROOT / "docs").is_dir():
        shutil.copytree(paths.ROOT / "docs", out / "docs")
    for name in ("pyproject.toml", "data/README.md", ".gitignore", "jupytext.toml"):
        if (paths.ROOT / name).is_file():
            shutil.copy2(paths.ROOT / name, out / name)
    (out / "Makefile").write_text(makefile((paths.ROOT / "Makefile").read_text()), encoding="utf-8")
    readme_text = readme((paths.ROOT / "README.md").read_text(encoding="utf-8"), solutions)
    (out / "README.md").write_text(readme_text, encoding="utf-8")
    names = [k.name for k in manifest.KATAS if k.test_file.is_file()]
    (out / ".github" / "workflows" / "katas.yml").write_text(to_yaml(workflow(names)) + "\n")
    return [
        f"The student edition is in {out}: {len(manifest.KATAS)} katas as pristine stubs,"
        f" solutions of: {', '.join(solutions) or 'none'}.",
        f"Push it as the course's template repository: cd {out} && git init && git add -A"
        " && git commit -m 'GPT Kata' ",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gptkata release", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="a new folder for the edition")
    parser.add_argument(
        "--solutions", default="", help="katas whose reference stays, e.g. tokenizer,batching"
    )
    args = parser.parse_args(argv)
    try:
        print("\n".join(release(args.out, [n for n in args.solutions.split(",") if n])))
    except ValueError as error:
        print(f"make release: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
