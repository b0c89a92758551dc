"""The kata manifest (katas.toml): the one ordered list of katas.

Everything that needs to know which katas exist, in which order, reads it from here:
the test selection (`make test KATA=...`), the progress view, hints, reset and the
maintainer checks.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from gptkata import paths

MANIFEST = Path(__file__).with_name("katas.toml")


@dataclass(frozen=True)
class Kata:
    number: int  # 1-based position in the learning order
    name: str
    module: str
    title: str
    seed: str
    hints: tuple[str, ...]
    time_limit: float | None = None  # seconds of processor time per test; None: the default
    points: float | None = None  # its weight in `make grade`; None: an equal share of the rest

    @property
    def exercise_file(self) -> Path:
        return paths.EXERCISES / f"{self.module}.py"

    @property
    def solution_file(self) -> Path:
        return paths.SOLUTIONS / f"{self.module}.py"

    @property
    def test_file(self) -> Path:
        return paths.KATA_TESTS / f"test_{self.name}.py"


def load(path: Path = MANIFEST) -> tuple[Kata, ...]:
    with path.open("rb") as f:
        entries = tomllib.load(f)["kata"]
    return tuple(
        Kata(
            number=i,
            name=e["name"],
            module=e["module"],
            title=e["title"],
            seed=e.get("seed", ""),
            hints=tuple(e.get("hints", ())),
            time_limit=e.get("time_limit"),
            points=e.get("points"),
        )
        for i, e in enumerate(entries, start=1)
    )


KATAS: tuple[Kata, ...] = load()


def get(name: str) -> Kata:
    """The kata called `name`; a ValueError listing the valid names otherwise."""
    for kata in KATAS:
        if kata.name == name:
            return kata
    names = ", ".join(k.name for k in KATAS)
    raise ValueError(f"there is no kata called {name!r}; the katas are: {names}")


def by_module(module: str) -> Kata:
    """The kata whose module is `module` (e.g. 'tokenizer' or 'exercises.tokenizer')."""
    short = module.rsplit(".", 1)[-1]
    for kata in KATAS:
        if kata.module == short:
            return kata
    raise ValueError(f"no kata has the module {module!r}")
