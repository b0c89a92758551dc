"""The command line behind the Makefile. Each command is one small function."""

from __future__ import annotations

import argparse
import os
import sys

from gptkata import manifest, paths, select


def cmd_test(args: argparse.Namespace) -> int:
    """Run the kata suite (all katas, or one) against the chosen implementation."""
    import pytest

    os.environ["GPTKATA_IMPL"] = args.impl
    os.environ["GPTKATA_CHAIN"] = args.chain
    target = str(paths.KATA_TESTS)
    if args.kata:
        target = str(manifest.get(args.kata).test_file)
    return pytest.main([target, *args.pytest_args])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gptkata", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    test = commands.add_parser("test", help="run the kata tests")
    test.add_argument("--kata", default="", help="only this kata (see gptkata/katas.toml)")
    test.add_argument("--impl", default="exercises", choices=select.PACKAGES)
    test.add_argument("--chain", default="reference", choices=select.CHAINS)
    test.add_argument("pytest_args", nargs="*", help="passed on to pytest")
    test.set_defaults(run=cmd_test)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # a wrong kata name or option: one line, no traceback
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 2
