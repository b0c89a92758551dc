"""`make mutants`: the report of a mutation run, and the reviewed list of equivalent
mutants, which must name mutants that still exist (gptkata/kata/mutants.py).

The mutation runs themselves take minutes per kata and are a maintainer's command,
never part of the suite: these tests check what the tool makes of mutmut's results
and the list, without mutmut.
"""

from __future__ import annotations

import pytest

from gptkata.kata import equivalents, manifest, mutants

SOURCE = "def f(x):\n    y = x + 1\n    return (\n        y * 2\n    )\n"


def test_every_listed_equivalent_mutant_still_exists_in_its_solution():
    problems = equivalents.problems(equivalents.load())
    assert problems == [], "\n".join(problems)


def test_a_listed_mutant_whose_line_left_the_solution_is_stale():
    kata = manifest.get("sampling")
    line = "drop_sorted = mass_before >= p"
    assert line in kata.solution_file.read_text(encoding="utf-8")
    entries = [
        {"kata": "sampling", "line": line, "mutant": "drop_sorted = mass_before > p", "why": "-"},
        {"kata": "sampling", "line": "gone = 1", "mutant": "gone = 2", "why": "-"},
    ]

    problems = equivalents.problems(entries)

    assert len(problems) == 1, problems
    assert "entry 2 (sampling)" in problems[0] and "'gone = 1'" in problems[0]
    assert "no longer exists" in problems[0]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"kata": "sampling", "line": "x", "mutant": "y"}, "needs kata, line, mutant and why"),
        ({"kata": "nope", "line": "x", "mutant": "y", "why": "-"}, "no kata called 'nope'"),
        (
            {"kata": "sampling", "line": "return logits", "mutant": "return logits", "why": "-"},
            "needs a change",
        ),
    ],
)
def test_an_entry_without_its_fields_a_kata_or_a_change_is_refused(entry, says):
    problems = equivalents.problems([entry])
    assert any(says in problem for problem in problems), problems


def test_the_same_mutant_listed_twice_is_refused():
    entry = {
        "kata": "sampling",
        "line": "drop_sorted = mass_before >= p",
        "mutant": "x",
        "why": "-",
    }
    assert equivalents.problems([entry, dict(entry)]) == [
        f"{equivalents.EQUIVALENTS.name}, entry 2: listed twice"
    ]


def test_a_change_over_several_lines_is_found_joined_by_spaces():
    assert equivalents.in_code(SOURCE, "return ( y * 2 )")
    assert equivalents.in_code(SOURCE, "y = x + 1")
    assert not equivalents.in_code(SOURCE, "y = x + 2")
    assert not equivalents.in_code(SOURCE, "return ( y * 3 )")


def test_a_mutant_is_one_line_with_its_place_in_the_original():
    found = mutants.one_line("solutions/f.py", SOURCE, SOURCE.replace("x + 1", "x - 1"))

    assert (found.line_number, found.line, found.mutant) == (2, "y = x + 1", "y = x - 1")
    assert found.shown() == "solutions/f.py:2  y = x + 1  ->  y = x - 1"


def test_a_removed_line_reads_removed():
    found = mutants.one_line("solutions/f.py", SOURCE, SOURCE.replace("    y = x + 1\n", ""))
    assert found.shown() == "solutions/f.py:2  y = x + 1  ->  (removed)"


def test_the_report_counts_the_mutants_and_lists_each_survivor_and_stale_entry():
    survivor = mutants.Mutant("solutions/sampling.py", 80, "a >= p", "a > p")
    score = mutants.KataScore("sampling", made=10, killed=7, seconds=61.0)
    score.equivalent = [mutants.Mutant("solutions/sampling.py", 77, "d=-1", "d=+1")] * 2
    score.survivors = [survivor]
    score.stale = [{"kata": "sampling", "line": "b", "mutant": "c", "why": "-"}]

    lines = score.lines()

    assert lines[0] == (
        "sampling: 10 mutants made, 7 killed, 2 equivalent, 1 survived: "
        "87% of the non-equivalent killed (61 s)"
    )
    assert lines[1] == "  survived: solutions/sampling.py:80  a >= p  ->  a > p"
    assert lines[2].startswith("  stale: equivalent_mutants.toml lists 'b' -> 'c'")
    assert not score.clean


def test_mutmuts_exit_codes_are_counted_and_survivors_matched_against_the_list(monkeypatch):
    kata = manifest.get("sampling")
    line, changed = "drop_sorted = mass_before >= p", "drop_sorted = mass_before > p"
    listed = [
        {"kata": "sampling", "line": line, "mutant": changed, "why": "-"},
        {"kata": "sampling", "line": "old", "mutant": "new", "why": "-"},
        {"kata": "tokenizer", "line": "other", "mutant": "kata", "why": "-"},
    ]
    found = {
        "m_3": mutants.Mutant("solutions/sampling.py", 80, line, changed),
        "m_4": mutants.Mutant("solutions/sampling.py", 81, "a", "b", "no test reaches it"),
    }
    monkeypatch.setattr(mutants, "survivor", lambda folder, kata, name, status: found[name])
    codes = {"m_1": 1, "m_2": -24, "m_3": 0, "m_4": 33, "m_5": None, "m_6": -11}
    score = mutants.KataScore("sampling")

    mutants._judge(score, None, kata, codes, listed)

    assert (score.made, score.killed, score.not_run) == (6, 3, 1)
    assert score.equivalent == [found["m_3"]]
    assert score.survivors == [found["m_4"]]
    assert score.stale == [listed[1]]
    assert "(no test reaches it)" in score.lines()[1]


def test_mutmut_is_pinned_in_the_mutants_extra_and_the_driver_compiles():
    requirement = mutants.mutmut_requirement()
    assert requirement.startswith("mutmut==") and requirement.count(".") == 2, requirement
    compile(mutants.DRIVER, "mutmut driver", "exec")


def test_a_change_is_placed_on_its_own_line_even_after_a_similar_one():
    source = "a = f(x, d=0.0)\nb = g(y)\nc = f(x, d=0.0)\n"
    changed = source.replace("c = f(x, d=0.0)", "c = f(x, d=1.0)")

    found = mutants.one_line("solutions/f.py", source, changed)

    assert (found.line_number, found.line, found.mutant) == (
        3,
        "c = f(x, d=0.0)",
        "c = f(x, d=1.0)",
    )


def test_a_call_that_the_mutant_writes_on_one_line_is_one_change():
    source = "a = 1\nb = f(\n    x, y\n)\nc = 2\n"

    found = mutants.one_line("solutions/f.py", source, "a = 1\nb = f(x, )\nc = 2\n")

    assert (found.line_number, found.line, found.mutant) == (2, "b = f( x, y )", "b = f(x, )")


SOLUTION = """class A:
    def forward(self, x):
        return x + 1


class B:
    def forward(self, x):
        return x * 2
"""
# mutmut's copy: each function as it is and its mutants under mangled names, with a
# line-span index beside it that, for methods, can point at another class's lines
COPY = """class A:
    def xǁAǁforward__mutmut_orig(self, x):
        return x + 1
class B:
    def xǁBǁforward__mutmut_orig(self, x):
        return x * 2
    def xǁBǁforward__mutmut_1(self, x):
        return x / 2
"""
SPANS = '{"spans": {"xǁBǁforward__mutmut_orig": [1, 3], "xǁBǁforward__mutmut_1": [6, 8]}}'


def test_a_survivor_is_placed_at_its_own_method_not_at_one_of_the_same_name(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "mutants" / "solutions").mkdir(parents=True)
    (tmp_path / "solutions" / "block.py").write_text(SOLUTION, encoding="utf-8")
    (tmp_path / "mutants" / "solutions" / "block.py").write_text(COPY, encoding="utf-8")
    (tmp_path / "mutants" / "solutions" / "block.py.spans").write_text(SPANS, encoding="utf-8")
    kata = manifest.get("block")

    found = mutants.survivor(tmp_path, kata, "solutions.block.xǁBǁforward__mutmut_1", "survived")
    missing = mutants.survivor(tmp_path, kata, "solutions.block.x_gone__mutmut_1", "survived")

    assert found.shown() == "solutions/block.py:8  return x * 2  ->  return x / 2"
    assert missing.line_number == 0 and "not found in mutmut's copy" in missing.mutant
