"""Which implementation runs: the learner's exercises or the reference solutions.

This is the seam between the tests and the code under test. Nothing is ever copied:
choosing the solutions is only a different import.

Two environment variables decide (the Makefile sets them from IMPL= and CHAIN=):

  GPTKATA_IMPL   exercises (default) | solutions | a folder of kata modules
                 the implementation whose katas are tested. A folder holds
                 <module>.py files (e.g. an instructor's own tokenizer.py); it is
                 imported as the package `gptkata_impl`, and a kata whose module is
                 not there is "not provided".
  GPTKATA_CHAIN  reference (default) | mine
                 where a later kata gets the pieces it builds on (get_batch for
                 training, attention heads for a block, ...). With `reference` every
                 kata can be attempted on its own; with `mine` later katas use the
                 learner's own earlier work.

Where a reference is absent (a student edition ships only some of solutions/), a
later kata builds on the learner's own earlier kata instead, and says so once.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from gptkata import paths
from gptkata.kata import manifest

PACKAGES = ("exercises", "solutions")
CHAINS = ("reference", "mine")
FOLDER_PACKAGE = "gptkata_impl"  # the package name a folder of kata modules gets

# Kata modules whose import was stopped by a time limit (an endless loop at import):
# the next test of the kata gets this error at once instead of importing it again.
_UNFINISHED: dict[str, tuple[str, str]] = {}  # module -> (kata, why)

# Notes for the end of a run ("attention uses your averaging kata: ..."), each once.
NOTES: list[str] = []


class KataBroken(Exception):
    """A kata's file could not be imported (a SyntaxError, a bad import, ...).

    `kata` is the kata whose own file is broken and `cause` that file's error with its
    place ('exercises/averaging.py:12 SyntaxError: invalid syntax'). When a later kata
    cannot import because an earlier one it builds on is broken (CHAIN=mine), the
    message names that earliest cause once: 'attention waits for averaging: ...',
    never a chain of one import error inside another.
    """

    def __init__(self, message: str, kata: str = "", cause: str = ""):
        super().__init__(message)
        self.kata, self.cause = kata, cause


_WAITS = re.compile(r"^(\w+) waits for (\w+): ")


def waits_for(message: str) -> tuple[str, str] | None:
    """('attention', 'averaging') for 'attention waits for averaging: ...', else None."""
    match = _WAITS.match(message or "")
    return (match[1], match[2]) if match else None


def _choice(variable: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(variable, default) or default
    if value not in allowed:
        raise ValueError(f"{variable}={value!r} is not one of: {', '.join(allowed)}")
    return value


def impl_name() -> str:
    """The implementation under test: 'exercises', 'solutions' or a folder's absolute path."""
    value = os.environ.get("GPTKATA_IMPL", "") or "exercises"
    if value in PACKAGES:
        return value
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(
            f"GPTKATA_IMPL={value!r} is neither exercises, solutions nor a folder of kata modules"
        )
    return str(folder)


def impl_folder(impl: str | None = None) -> Path:
    """The folder holding the modules of `impl` (default: the one under test)."""
    return paths.ROOT / (impl or impl_name())  # an absolute folder stays itself


def impl_shown(impl: str | None = None) -> str:
    """'exercises', 'solutions' or a folder's path (relative to the repository when it
    lies inside): the implementation as messages and commands name it."""
    return paths.shown(impl_folder(impl))


def impl_file(module: str, impl: str | None = None) -> str:
    """'exercises/tokenizer.py' (or 'solutions/...', or the file in a folder under test):
    the file a message should send the reader to."""
    return f"{impl_shown(impl)}/{module}.py"


def provided(kata_name: str, impl: str | None = None) -> bool:
    """Whether the implementation has a file for the kata."""
    return (impl_folder(impl) / f"{manifest.get(kata_name).module}.py").is_file()


def _package(impl: str) -> str:
    """The importable package of `impl`; a folder becomes the package `gptkata_impl`."""
    if impl in PACKAGES:
        return impl
    package = sys.modules.get(FOLDER_PACKAGE)
    if package is None or list(package.__path__) != [impl]:
        for name in [n for n in sys.modules if n.startswith(FOLDER_PACKAGE + ".")]:
            del sys.modules[name]
        package = ModuleType(FOLDER_PACKAGE, f"the kata modules in {impl}")
        package.__path__ = [impl]
        sys.modules[FOLDER_PACKAGE] = package
    return FOLDER_PACKAGE


def chain_name() -> str:
    """Where later katas get earlier pieces: 'reference' or 'mine'."""
    return _choice("GPTKATA_CHAIN", CHAINS, "reference")


def load(impl: str, kata_name: str) -> ModuleType:
    """Import the kata's module from `impl` (exercises, solutions or a folder), turning
    any import failure into a one-line KataBroken that names the file and line."""
    kata = manifest.get(kata_name)
    qualified = f"{_package(impl)}.{kata.module}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    shown = impl_file(kata.module, impl)
    if qualified in _UNFINISHED:
        name, cause = _UNFINISHED[qualified]
        raise KataBroken(cause, name, cause)
    if not provided(kata_name, impl):
        if impl in PACKAGES:
            missing = f"{shown} is missing"
            raise KataBroken(
                f"{missing}: `make reset KATA={kata.name}` restores the stub", kata.name, missing
            )
        missing = f"kata {kata.name} is not provided: there is no {shown}"
        raise KataBroken(missing, kata.name, missing)
    try:
        return importlib.import_module(qualified)
    except KataBroken as error:  # an earlier kata it builds on does not import
        sys.modules.pop(qualified, None)
        root = error.kata or "an earlier kata"
        raise KataBroken(
            f"{kata.name} waits for {root}: {error.cause or error}", root, error.cause
        ) from None
    except (Exception, SystemExit) as error:  # any error, or an exit, while importing it
        sys.modules.pop(qualified, None)
        raise KataBroken(
            describe_import_error(shown, error), kata.name, _cause(shown, error)
        ) from error
    except BaseException as error:  # a time limit stopped the import half-way
        sys.modules.pop(qualified, None)
        if not isinstance(error, KeyboardInterrupt):  # stopped once: never imported again
            _UNFINISHED[qualified] = (kata.name, f"{shown} did not finish importing: {error}")
        raise


def describe_import_error(filename: str, error: BaseException) -> str:
    """'exercises/x.py does not import: SyntaxError: invalid syntax (exercises/x.py:12)'."""
    where = ""
    if isinstance(error, SyntaxError) and error.lineno:
        where = f"{filename}:{error.lineno}"
        message = error.msg
    else:
        message = f"sys.exit({error.code!r})" if isinstance(error, SystemExit) else str(error)
        frames = traceback.extract_tb(error.__traceback__)
        inside = [f for f in frames if f.filename.replace("\\", "/").endswith(filename)]
        if inside or frames:
            frame = (inside or frames)[-1]
            where = f"{paths.shown(frame.filename)}:{frame.lineno}"
    suffix = f" ({where})" if where else ""
    return f"{filename} does not import: {type(error).__name__}: {message}{suffix}"


def _cause(filename: str, error: BaseException) -> str:
    """'exercises/x.py:12 SyntaxError: invalid syntax': the error at its place."""
    described = describe_import_error(filename, error)
    body = described.split(" does not import: ", 1)[1]
    match = re.match(r"^(.*) \(([^()]+:\d+)\)$", body)
    return f"{match[2]} {match[1]}" if match else f"{filename} {body}"


def implementation(kata_name: str) -> ModuleType:
    """The module under test for `kata_name`, from the selected implementation."""
    return load(impl_name(), kata_name)


def dependency(kata_name: str) -> ModuleType:
    """A building block from another kata, as the tests use it: the reference,
    unless the learner chose to chain their own work (GPTKATA_CHAIN=mine)."""
    impl = impl_name()
    if impl == "solutions" or chain_name() == "reference":
        return _reference_or(impl, kata_name, "the tests use")
    return _mine(impl, kata_name)


def _mine(impl: str, kata_name: str) -> ModuleType:
    """The kata from `impl` itself; from the reference where a folder does not provide it."""
    if impl in PACKAGES or provided(kata_name, impl):
        return load(impl, kata_name)
    return _reference_or("exercises", kata_name, "the tests use")


def _reference_or(mine: str, kata_name: str, who: str) -> ModuleType:
    """The reference of `kata_name`; where the reference is absent (a student edition),
    the learner's own version from `mine`, with a note said once."""
    if provided(kata_name, "solutions"):
        return load("solutions", kata_name)
    if mine == "solutions" or (mine not in PACKAGES and not provided(kata_name, mine)):
        mine = "exercises"
    note = f"{who} your {kata_name} kata: its reference is not part of this edition"
    if note not in NOTES:
        NOTES.append(note)
    return load(mine, kata_name)


def earlier(importer: str, kata_name: str) -> ModuleType:
    """The module of an earlier kata, for a kata module to build on.

    Call it as `earlier(__name__, "batching")`. The reference solutions always build
    on the reference; an exercise builds on the reference too unless
    GPTKATA_CHAIN=mine, so a learner can start at any kata.
    """
    if importer == "__main__":  # the kata opened as a notebook, or run as a script
        if chain_name() == "mine":
            return load("exercises", kata_name)
        return _reference_or("exercises", kata_name, "this notebook uses")
    package, _, module = importer.rpartition(".")
    me, wanted = manifest.by_module(module), manifest.get(kata_name)
    if wanted.number >= me.number:
        raise ValueError(
            f"kata {me.name!r} can only build on earlier katas, not on {wanted.name!r}"
        )
    mine = "exercises" if package == "exercises" else impl_name()
    if package == "solutions":
        return _reference_or("exercises", kata_name, f"{me.name} uses")
    if chain_name() == "mine":
        return _mine(mine, kata_name)
    return _reference_or(mine, kata_name, f"{me.name} uses")


class Lazy:
    """A stand-in for a kata module that imports it on first use.

    Test files write `tokenizer = Lazy(implementation, "tokenizer")` at the top:
    a broken exercise file then fails that kata's tests one by one, with a one-line
    reason, instead of stopping the collection of the whole suite. Private names
    (`_x`, `__wrapped__`) are never looked up in the kata: pytest asks for some while
    it collects, and learner code must not run (or hang, or exit) before a test does.
    """

    def __init__(self, resolve, kata_name: str):
        self._resolve = resolve
        self._kata_name = kata_name

    def __getattr__(self, attribute: str):
        if attribute.startswith("_"):  # pytest's probes while collecting (fixture markers,
            # __test__): answered without importing, so no kata's code runs before its tests
            raise AttributeError(attribute)
        return getattr(self._resolve(self._kata_name), attribute)

    def __repr__(self) -> str:
        return f"<kata {self._kata_name!r} via {self._resolve.__name__}>"
