"""The README and docs/ stay true: every `make` command they show exists with the
variables and flags it passes, every relative link leads to a file, every doc says
whom it is for, and the preset table of docs/lab.md is the presets module's.

Each checker is a plain function of text, tested first on a line or a table that is
known to be wrong, so that a checker that cannot fail is caught too."""

from __future__ import annotations

import functools
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gptkata import paths
from gptkata.lab import presets

MAKEFILE = (paths.ROOT / "Makefile").read_text(encoding="utf-8")
DOCS = [paths.ROOT / "README.md", *sorted((paths.ROOT / "docs").glob("*.md"))]
DOC_IDS = [str(p.relative_to(paths.ROOT)) for p in DOCS]

# -- what exists: the Makefile's targets and variables, the commands' flags ---------


def makefile_targets(makefile: str) -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*)\s*:", makefile, flags=re.MULTILINE))


def makefile_variables(makefile: str) -> set[str]:
    """Every variable the Makefile reads ($(VAR)) or sets (VAR ?= ...)."""
    read = re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", makefile)
    set_ = re.findall(r"^([A-Z][A-Z0-9_]*)\s*[?:+]?=", makefile, flags=re.MULTILINE)
    return set(read) | set(set_)


def help_flags(help_text: str) -> set[str]:
    """The flags an argparse --help lists in its usage (the text before the first
    blank line), e.g. {"--seed", "--compile", "--no-compile", "--help"}."""
    usage = help_text.split("\n\n", 1)[0]
    return set(re.findall(r"(?<![\w-])--[a-z][\w-]*", usage)) | {"--help"}


@functools.cache
def help_of(*module_and_args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", *module_and_args, "--help"],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@functools.cache
def gptkata_commands() -> frozenset[str]:
    """The commands of `python -m gptkata`, from the {a,b,...} of its usage."""
    usage = help_of("gptkata").split("\n\n", 1)[0]
    return frozenset(re.search(r"\{([\w,-]+)\}", usage).group(1).split(","))


def real_flags() -> dict[str, set[str]]:
    """The flags of the commands whose ARGS the docs check: make train and make sample."""
    return {
        "train": help_flags(help_of("gptkata.lab.train")),
        "sample": help_flags(help_of("gptkata.lab.sample")),
    }


# -- the checkers -------------------------------------------------------------------

ARGS = re.compile(r"""\bARGS=("[^"]*"|'[^']*'|\S+)""")
FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")


def make_command_problems(
    command: str, targets: set[str], variables: set[str], flags: dict[str, set[str]]
) -> list[str]:
    """What is wrong with one `make <target> VAR=... ARGS="..."` command: a target the
    Makefile lacks, a variable it never reads, a flag in ARGS that the target's
    command does not take (checked for the targets named in `flags`). Text before
    `make` (environment variables) is not the Makefile's business."""
    found = re.search(r"(?:^|\s)make\s+([a-z][\w-]*)(.*)$", command)
    if not found:
        return [f"not a make command: {command!r}"]
    target, rest = found.groups()
    problems = []
    if target not in targets:
        problems.append(f"{command!r}: the Makefile has no target {target!r}")
    args = ARGS.search(rest)
    for variable in re.findall(r"(?<![\w-])([A-Z][A-Z0-9_]*)=", ARGS.sub("", rest)):
        if variable not in variables:
            problems.append(f"{command!r}: the Makefile never reads {variable}=")
    if args and "ARGS" not in variables:
        problems.append(f"{command!r}: the Makefile never reads ARGS=")
    if args and target in flags:
        for flag in FLAG.findall(args.group(1).strip("\"'")):
            if flag not in flags[target]:
                problems.append(f"{command!r}: make {target} has no flag {flag}")
    return problems


def strip_comment(line: str) -> str:
    """A shell line without its trailing `# comment` (a # outside quotes, after a space)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def code_commands(markdown: str) -> list[str]:
    """The command lines of a markdown text's code: fenced blocks and lines indented
    by four spaces or more, comments removed, continuation lines joined (a trailing
    backslash, or a next line of options in [brackets])."""
    commands: list[str] = []
    fenced = continued = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced, continued = not fenced, False
            continue
        if not (fenced or line.startswith("    ")):
            continued = False
            continue
        text = strip_comment(line).strip()
        if commands and (continued or text.startswith("[")):
            commands[-1] = f"{commands[-1]} {text}"
        else:
            commands.append(text)
        continued = commands[-1].endswith("\\")
        commands[-1] = commands[-1].rstrip("\\").rstrip()
    return commands


def inline_commands(markdown: str) -> list[str]:
    """The `make ...` commands written as inline code, on one line or across two."""
    return [" ".join(span.split()) for span in re.findall(r"`(make [^`]+)`", markdown)]


def make_commands(markdown: str) -> list[str]:
    shown = [c for c in code_commands(markdown) if re.search(r"(?:^|\s)make\s+[a-z]", c)]
    return shown + inline_commands(markdown)


LAB_COMMANDS = ("gptkata.lab.train", "gptkata.lab.sample")


def lab_module_problems(command: str, flags_of) -> list[str]:
    """`... -m gptkata.lab.train --flag ...` (under torchrun, say): the module takes the flags."""
    found = re.search(r"-m (gptkata\.lab\.\w+)(.*)$", command)
    if not found or found.group(1) not in LAB_COMMANDS:
        return []
    module, rest = found.groups()
    return [
        f"{command!r}: {module} has no flag {flag}"
        for flag in FLAG.findall(rest)
        if flag not in flags_of(module)
    ]


def gptkata_command_problems(command: str, commands: set[str], flags_of) -> list[str]:
    """`python -m gptkata <command> --flag ...`: the command exists and takes the flags."""
    found = re.search(r"-m gptkata (\S+)(.*)$", command)
    if not found or found.group(1).startswith("<"):
        return []
    name, rest = found.groups()
    if name not in commands:
        return [f"{command!r}: python -m gptkata has no command {name!r}"]
    return [
        f"{command!r}: python -m gptkata {name} has no flag {flag}"
        for flag in FLAG.findall(rest)
        if flag not in flags_of(name)
    ]


def link_problems(markdown: str, source: Path, root: Path) -> list[str]:
    """Every relative link [text](path) or [text](path#anchor) of `source` leads to a
    file inside the repository; an anchor into a markdown file names one of its headings."""
    problems = []
    for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", markdown):
        if re.match(r"[a-z]+:", target):
            continue  # https://, mailto:
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve() if path else source.resolve()
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{source.name}: {target} leads out of the repository")
        elif not resolved.exists():
            problems.append(f"{source.name}: {target} does not exist")
        elif anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(encoding="utf-8"), re.M)
            if anchor not in {slug(h) for h in headings}:
                problems.append(f"{source.name}: {target} names no heading")
    return problems


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def table_rows(markdown: str, first_header: str) -> list[dict[str, str]]:
    """The rows of the markdown table whose header starts with `first_header`, as
    {header: cell}."""
    lines = markdown.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |")), None
    )
    if start is None:
        return []
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append(dict(zip(header, cells, strict=False)))  # a short row lacks its last cells
    return rows


def model_kata(preset: presets.Preset) -> int:
    """The kata whose model a preset trains."""
    if preset.model in ("bigram", "modern"):
        return {"bigram": 3, "modern": 16}[preset.model]
    return 10 if preset.attention == "fused" else 9


def expected_preset_row(preset: presets.Preset) -> dict[str, str]:
    """The cells of a preset's row in docs/lab.md that the module decides."""
    no_layers = preset.model == "bigram"  # a table of next-character scores, no blocks

    def size(value: int) -> str:
        return "-" if no_layers else f"{value:,}"

    budget = (
        f"{preset.max_seconds:g} s"
        if math.isfinite(preset.max_seconds)
        else f"{preset.max_steps:,} steps"
    )
    return {
        "what it trains": f"kata {model_kata(preset)}'s",
        "layers": size(preset.n_layer),
        "heads": size(preset.n_head),
        "channels": size(preset.n_embd),
        "block": f"{preset.block_size:,}",
        "batch": f"{preset.batch_size:,}",
        "budget": budget,
    }


def preset_table_problems(markdown: str, defined: dict[str, presets.Preset]) -> list[str]:
    """The preset table against the presets: the same names in the same order, and each
    row's kata, sizes and budget as the preset sets them."""
    rows = table_rows(markdown, "preset")
    names = [row["preset"].strip("`") for row in rows]
    if names != list(defined):
        return [f"the preset table lists {names}, the presets are {list(defined)}"]
    problems = []
    for row, (name, preset) in zip(rows, defined.items(), strict=True):
        for column, expected in expected_preset_row(preset).items():
            cell = row.get(column)
            ok = cell is not None and (
                expected in cell if column == "what it trains" else cell == expected
            )
            if not ok:
                problems.append(f"preset {name}: {column} shows {cell!r}, the preset: {expected!r}")
    return problems


# -- the checkers fail on what is wrong --------------------------------------------

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
