"""The command line behind the Makefile. Each command is one small function.

    python -m gptkata test [--kata K] [--impl exercises|solutions|FOLDER] [--chain reference|mine]
    python -m gptkata progress [--chain ...]      every kata's state and the next step
    python -m gptkata watch [--kata K] [--poll]   rerun the current kata on every save
    python -m gptkata show [--kata K]             a kata's instructions
    python -m gptkata hint [--kata K] [--again | --restart]
    python -m gptkata reset --kata K              the pristine stub (yours is backed up)
    python -m gptkata train [--preset cpu] [...]  train the reference GPT (make train)
    python -m gptkata sample [...]                sample from a trained checkpoint

    python -m gptkata grade --submissions DIR [--out grades] [--jobs N] [--timeout S]
    python -m gptkata release --out DIR [--solutions kata,kata]
    python -m gptkata new-kata --name N --title "..."

Without --kata, show, hint and watch take the current kata: the first one that is
not done. train, sample, grade, release and new-kata parse their own options (`python
-m gptkata train --help`): each is its module's `main`, imported only when it runs, so
that the other commands never wait for torch. Installed with pip, `gptkata` is the
same command as `python -m gptkata`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from gptkata.data import CorpusError
from gptkata.kata import cache, hints, manifest, progress, reset, runner, select, show


def one_kata(name: str) -> manifest.Kata:
    """The kata named `name`; one line listing the valid names for anything else
    (several names, an unknown one)."""
    names = ", ".join(k.name for k in manifest.KATAS)
    if len(name.replace(",", " ").split()) > 1:
        raise ValueError(f"KATA= (--kata) names one kata, not {name!r}; the katas are: {names}")
    return manifest.get(name.strip())


def cmd_test(args: argparse.Namespace) -> int:
    """Run the kata tests (all katas in manifest order, or one) against the chosen
    implementation, in a child process (gptkata.kata.runner): 0 only when every
    selected test ran and passed."""
    os.environ["GPTKATA_IMPL"] = args.impl
    impl = select.impl_name()  # a folder: its absolute path, checked
    katas = (one_kata(args.kata),) if args.kata else manifest.KATAS
    targets = [str(k.test_file) for k in katas if k.test_file.is_file()]
    if not targets:
        raise ValueError(f"kata {args.kata} has no tests yet")
    problem = runner.corpus_problem()
    if problem:
        raise CorpusError(problem)
    # a run of whole katas of exercises/ is what progress and watch would run: kept for them
    kept = {}
    if impl == "exercises" and not args.pytest_args:
        keys = cache.Keys()
        kept = {k.name: keys.key(k, args.chain) for k in katas if k.test_file.is_file()}
    outcome = runner.run(targets, args.pytest_args, impl=impl, chain=args.chain)
    if kept and outcome.complete:
        cache.keep(katas, kept, outcome.results, args.chain)
    for line in runner.report_lines(outcome):
        print(line, flush=True)
    if outcome.passed:
        return 0
    return outcome.exitstatus if outcome.complete and outcome.exitstatus else 1


def _kata_or_current(args: argparse.Namespace) -> str | None:
    """The kata named with --kata, or else the first one that is not done."""
    if args.kata:
        return one_kata(args.kata).name
    print("No KATA given: finding the current kata (the first that is not done)...", flush=True)
    kata = progress.current_kata(getattr(args, "chain", "reference"))
    if kata is None:
        print("Every kata is done. Name one to see it anyway: KATA=<name>")
        return None
    print(f"The current kata is {kata.name}.\n")
    return kata.name


def cmd_progress(args: argparse.Namespace) -> int:
    return progress.main(args.chain)


def cmd_watch(args: argparse.Namespace) -> int:
    from gptkata.kata import watch  # watchdog: only watch needs it

    if args.kata:
        one_kata(args.kata)
    return watch.main(args.kata, args.chain, args.poll)


def cmd_show(args: argparse.Namespace) -> int:
    name = _kata_or_current(args)
    return show.main(name) if name else 0


def cmd_hint(args: argparse.Namespace) -> int:
    if args.again and args.restart:
        raise ValueError(
            "choose one: AGAIN=1 shows the revealed hints again, RESTART=1 hides them all"
        )
    name = _kata_or_current(args)
    return hints.main(name, again=args.again, start_over=args.restart) if name else 0


def cmd_reset(args: argparse.Namespace) -> int:
    if not args.kata:
        names = ", ".join(k.name for k in manifest.KATAS)
        raise ValueError(
            f"name the kata to start over: make reset KATA=<name>; the katas are: {names}"
        )
    return reset.main(one_kata(args.kata).name)


# The commands that parse their own options, and the module whose main(argv) runs each.
OWN_OPTIONS = {
    "train": "gptkata.lab.train",
    "sample": "gptkata.lab.sample",
    "grade": "gptkata.kata.grade",
    "release": "gptkata.kata.release",
    "new-kata": "gptkata.kata.authoring",
}


def own_options_command(name: str, argv: list[str]) -> int:
    """Run the command `name` of OWN_OPTIONS with its own options `argv`; one line
    where this copy of the course has no such module (a student edition has neither
    the lab nor the instructors' commands)."""
    module = OWN_OPTIONS[name]
    try:
        command = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if not error.name or not module.startswith(error.name):
            raise  # a module that the command itself imports is missing: not ours to hide
        missing = module.replace(".", "/") + ".py"
        print(
            f"python -m gptkata {name}: this copy of the course has no {missing}", file=sys.stderr
        )
        return 1
    return command.main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gptkata",
        description=__doc__.splitlines()[0],
        epilog=f"also {', '.join(OWN_OPTIONS)}, each with options of its own "
        "(python -m gptkata train --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, run, help: str, kata_help: str = "the kata, one name (default: the current one)"
    ):
        sub = commands.add_parser(name, help=help, description=help)
        # nargs="+": `--kata a b` (KATA="a b" unquoted) is one line naming the katas, not
        # a stray argument for argparse or pytest; one_kata then says KATA= takes one name
        sub.add_argument("--kata", default=[], nargs="+", help=kata_help)
        sub.set_defaults(run=run)
        return sub

    def chain_option(sub):
        sub.add_argument("--chain", default="reference", choices=select.CHAINS)

    test = command(
        "test", cmd_test, "run the kata tests", "only this kata, one name (default: all)"
    )
    test.add_argument(
        "--impl", default="exercises", help="exercises, solutions, or a folder of kata modules"
    )
    chain_option(test)
    test.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    chain_option(command("progress", cmd_progress, "every kata's state and the next step"))
    watching = command("watch", cmd_watch, "rerun the current kata's tests on every save")
    chain_option(watching)
    watching.add_argument(
        "--poll", action="store_true", help="poll for changes instead of file events"
    )
    command("show", cmd_show, "a kata's instructions: what to build, the shapes, the tests")
    hint = command("hint", cmd_hint, "reveal a kata's next hint")
    hint.add_argument("--again", action="store_true", help="show the revealed hints, no new one")
    hint.add_argument("--restart", action="store_true", help="hide the kata's hints again")
    command(
        "reset",
        cmd_reset,
        "back to the pristine stub; your version is backed up first",
        "the kata to start over, one name (required)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in OWN_OPTIONS:
        return own_options_command(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    args.kata = " ".join(args.kata)
    try:
        return args.run(args)
    except ValueError as error:  # a wrong kata name or option: one line, no traceback
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 2
    except (progress.SuiteError, CorpusError, reset.ResetError, hints.StateError) as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130
