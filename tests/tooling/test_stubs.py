"""Stub generation: bodies become one raise line, everything given is kept."""

import ast

import pytest

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

    def _init_weights(self, module):
        """Given whole: a private method."""
        module.weight = 0


def checked(x, n):
    """x, validated, doubled."""
    _check(x)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    # -- your code below --
    return x * 2 * n


def _check(x):
    """Given whole: a private helper."""
    if x is None:
        raise ValueError("x is None")
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
        "demo.checked",
    ]
    lines = path.read_text().splitlines()
    assert all("not implemented yet" in lines[line - 1] for _, line in found)
    assert stubs.remaining(tmp_path / "missing.py") == []


def test_private_functions_and_methods_are_given_whole_and_dunders_are_not():
    out = stubs.stub_text(SOLUTION, "demo")
    assert (
        '    def _init_weights(self, module):\n        """Given whole: a private method."""\n        module.weight = 0\n'
        in out
    )
    assert 'def _check(x):\n    """Given whole: a private helper."""\n    if x is None:\n' in out
    assert "demo._check" not in out and "demo.Model._init_weights" not in out
    assert "self.n = n" not in out  # __init__ is public: the learner writes it
    assert stubs.is_given("_check") and not stubs.is_given("__init__")


def test_the_lines_above_the_marker_are_given_and_the_stub_follows_the_marker():
    out = stubs.stub_text(SOLUTION, "demo")
    assert (
        "    _check(x)\n"
        "    if n < 1:\n"
        '        raise ValueError(f"n must be at least 1, got {n}")\n'
        f"    {stubs.MARKER}\n"
        '    raise NotImplementedError("not implemented yet: demo.checked")\n'
    ) in out
    assert "return x * 2 * n" not in out


@pytest.mark.parametrize(
    "body, problem",
    [
        ("    return 1\n    # -- your code below --\n", "nothing follows"),
        ("    if x:\n        # -- your code below --\n        return 1\n", "indentation"),
        (
            "    # -- your code below --\n    y = 1\n    # -- your code below --\n    return y\n",
            "one `# -- your code below --` line at most",
        ),
    ],
)
def test_a_misplaced_marker_is_an_error_naming_the_function(body, problem):
    with pytest.raises(ValueError, match=problem) as error:
        stubs.stub_text(f'def f(x):\n    """Doc."""\n{body}', "demo")
    assert "demo.f" in str(error.value)


def test_every_kata_stubs_exactly_its_solution_functions():
    for kata in manifest.KATAS:
        generated = stubs.stub_source(kata)
        names = [name for name, _ in stubs.remaining(kata.solution_file)]
        assert names == [], f"a solution must contain no stub lines: {names}"
        assert generated.count("raise NotImplementedError") == len(stubs.stubbed_functions(kata))


def test_validation_helpers_and_weight_initialisation_are_given_in_the_exercises():
    kept = {
        "batching": "def _check_block(",
        "averaging": "def _check_btc(",
        "gpt": "nn.init.normal_(module.weight, mean=0.0, std=0.02)",
    }
    for name, text in kept.items():
        assert text in stubs.stub_source(manifest.get(name)), f"{name}: {text} is not given"
    assert "gpt.GPTLanguageModel._init_weights" not in stubs.stubbed_functions(manifest.get("gpt"))
