"""The checkers behind test_docs.py: the make and python -m commands, the links and
the preset table that README.md and docs/*.md show, each turned into a list of
problems (empty when the doc is right)."""

from __future__ import annotations

import functools
import math
import re
import subprocess
import sys
from pathlib import Path

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
