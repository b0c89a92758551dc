"""Stub generation: bodies become one raise line, everything else is kept."""

import ast

from gptkata.kata import manifest, stubs

SOLUTION = '''"""Module docstring."""

import torch  # kept


def double(x):
    """Twice x."""
    # a comment inside the body goes too
    y = x * 2
    return y


class Model:
    """A class."""

    size = 3  # class attributes stay

    def __init__(self, n):
        """Set up."""
        self.n = n

    @staticmethod
    def helper(
        a,
        b,
    ):
        return a + b
'''


def test_every_body_becomes_one_raise_naming_kata_and_function():
    out = stubs.stub_text(SOLUTION, "demo")
    assert 'raise NotImplementedError("not implemented yet: demo.double")' in out
    assert 'raise NotImplementedError("not implemented yet: demo.Model.__init__")' in out
    assert 'raise NotImplementedError("not implemented yet: demo.Model.helper")' in out
    assert "y = x * 2" not in out and "self.n = n" not in out and "return a + b" not in out
    assert "comment inside the body" not in out


def test_signatures_docstrings_and_module_code_are_kept():
    out = stubs.stub_text(SOLUTION, "demo")
    for kept in ('"""Module docstring."""', "import torch  # kept", '"""Twice x."""', "size = 3"):
        assert kept in out
    assert "    @staticmethod\n    def helper(\n        a,\n        b,\n    ):\n" in out
    ast.parse(out)  # still valid Python


def test_remaining_finds_each_stub_line(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text(stubs.stub_text(SOLUTION, "demo"))
    found = stubs.remaining(path)
    assert [name for name, _ in found] == [
        "demo.double",
        "demo.Model.__init__",
        "demo.Model.helper",
    ]
    lines = path.read_text().splitlines()
    assert all("not implemented yet" in lines[line - 1] for _, line in found)
    assert stubs.remaining(tmp_path / "missing.py") == []


def test_every_kata_stubs_exactly_its_solution_functions():
    for kata in manifest.KATAS:
        generated = stubs.stub_source(kata)
        names = [name for name, _ in stubs.remaining(kata.solution_file)]
        assert names == [], f"a solution must contain no stub lines: {names}"
        assert generated.count("raise NotImplementedError") == len(stubs.stubbed_functions(kata))
