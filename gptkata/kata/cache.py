"""Kata results kept between runs, so an unchanged kata is never tested twice.

A kata's result depends on a handful of files, and on nothing else: its test file,
the shared test helpers, the harness, the reference solutions, and the learner's
exercise files - its own, and under CHAIN=mine those of every kata it uses
(gptkata.kata.deps). `key` hashes the content of all of them (with the chain, the
implementation, the hypothesis profile and whether the corpus is installed); a
result stored under the same key is reused as it is. Change any of those files and
the key changes, so exactly the katas that depend on it run again.

The results live in .gptkata/results/<kata>-<chain>.json (ignored by git), written
atomically. A run that did not finish (killed, crashed) is never stored, so it is
rerun next time. `make progress` and `make watch` share this cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from gptkata import data, outputs, paths
from gptkata.kata import deps, manifest
from gptkata.kata.results import Result

VERSION = "1"  # bump when the stored form or the meaning of a result changes
# a learner's file that imports another exercise directly (not through `earlier`)
_IMPORTED = re.compile(r"(?:\bexercises\.|from\s+exercises\s+import\s+)(\w+)")


def folder() -> Path:
    return paths.ROOT / ".gptkata" / "results"


def _harness() -> list[Path]:
    """The files every kata's result depends on: test helpers, harness, settings."""
    tests = paths.ROOT / "tests"
    files = [paths.ROOT / "pyproject.toml", *sorted(tests.glob("*.py"))]
    # the kata tests' own helper modules (gpt_models.py, ...): any kata's tests may use them
    files += sorted(p for p in (tests / "katas").glob("*.py") if not p.name.startswith("test_"))
    files += sorted((paths.ROOT / "gptkata").glob("*.py"))
    kata_wing = paths.ROOT / "gptkata" / "kata"
    files += sorted(kata_wing.glob("*.py")) + sorted(kata_wing.glob("*.toml"))
    files += sorted(paths.SOLUTIONS.glob("*.py"))
    return files


def _exercises_of(kata: manifest.Kata, chain: str, package: Path) -> list[Path]:
    """The learner's files that `kata`'s result depends on."""
    own = package / f"{kata.module}.py"
    names = {kata.module}
    if chain == "mine":
        names |= {k.module for k in deps.uses(kata)}
    try:  # anything the learner's file imports from exercises/ directly
        names |= set(_IMPORTED.findall(own.read_text(encoding="utf-8")))
    except OSError:
        pass
    return [package / f"{name}.py" for name in sorted(names)]


class Keys:
    """Content hashes of files, each file read once however many katas share it."""

    def __init__(self):
        self._digests: dict[Path, str] = {}

    def digest(self, path: Path) -> str:
        if path not in self._digests:
            try:
                self._digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self._digests[path] = "missing"
        return self._digests[path]

    def key(self, kata: manifest.Kata, chain: str, impl: str = "exercises") -> str:
        corpus = data.corpus_path()
        settings = [
            VERSION,
            kata.name,
            chain,
            impl,
            os.environ.get("HYPOTHESIS_PROFILE", "fast"),
            str(corpus.stat().st_size if corpus.is_file() else "no corpus"),
        ]
        files = [*_harness(), kata.test_file, *_exercises_of(kata, chain, paths.ROOT / impl)]
        lines = settings + [
            f"{p.relative_to(paths.ROOT).as_posix()} {self.digest(p)}" for p in files
        ]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def key(kata: manifest.Kata, chain: str, impl: str = "exercises") -> str:
    return Keys().key(kata, chain, impl)


def _file(kata: manifest.Kata, chain: str) -> Path:
    return folder() / f"{kata.name}-{chain}.json"


def lookup(kata: manifest.Kata, key: str, chain: str = "reference") -> list[Result] | None:
    """The stored results of `kata` under `key`, or None."""
    try:
        stored = json.loads(_file(kata, chain).read_text(encoding="utf-8"))
        if stored.get("key") != key:
            return None
        return [Result(**r) for r in stored["results"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def store(kata: manifest.Kata, key: str, results: list[Result], chain: str = "reference") -> None:
    """Keep `kata`'s results under `key` (a kata without results is not kept)."""
    mine = [r for r in results if r.kata == kata.name]
    if not mine:
        return
    try:
        folder().mkdir(parents=True, exist_ok=True)
        blob = {"key": key, "results": [asdict(r) for r in mine]}
        outputs.write_json(_file(kata, chain), blob)
    except OSError:
        pass  # a cache that cannot be written only makes the next run slower


def keep(
    katas: tuple[manifest.Kata, ...], keys: dict[str, str], ran: list[Result], chain: str
) -> None:
    """Store the results of a run that ran every test of `katas` (make test), each
    under the key it had before the run, unless one of its files changed meanwhile."""
    after = Keys()
    for kata in katas:
        if kata.name in keys and after.key(kata, chain) == keys[kata.name]:
            store(kata, keys[kata.name], ran, chain)


def results(
    katas: tuple[manifest.Kata, ...],
    chain: str,
    run: Callable[[tuple[manifest.Kata, ...], str], list[Result]],
) -> list[Result]:
    """The results of `katas`: stored ones where nothing changed, the others from
    `run(missing_katas, chain)` (stored for next time), in manifest order."""
    keys = Keys()
    wanted = {k.name: keys.key(k, chain) for k in katas if k.test_file.is_file()}
    found = {k.name: lookup(k, wanted[k.name], chain) for k in katas if k.name in wanted}
    missing = tuple(k for k in katas if k.name in wanted and found[k.name] is None)
    if missing:
        fresh = run(missing, chain)
        after = Keys()  # a file saved while the tests ran: keep nothing for that kata
        for kata in missing:
            found[kata.name] = [r for r in fresh if r.kata == kata.name]
            if after.key(kata, chain) == wanted[kata.name]:
                store(kata, wanted[kata.name], fresh, chain)
    return [r for k in katas for r in (found.get(k.name) or [])]
