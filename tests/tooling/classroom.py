"""A made-up graded class for the tests of grade_report and grade_html: what the grader
hands to `grade_report.write`, without grading anything."""

from __future__ import annotations

from dataclasses import dataclass, field

KATAS = ["tokenizer", "batching", "bigram"]
TOTALS = {"tokenizer": 4, "batching": 3, "bigram": 2}
SCRIPT_NAME = "<script>alert(1)</script>"
IMG_MESSAGE = "SyntaxError: invalid syntax (exercises/tokenizer.py:3) <img src=x onerror=alert(2)>"


@dataclass
class Sub:
    """Stands in for the grader's Submission: the attributes grade_report reads."""

    name: str
    tests: dict[str, list[dict]] = field(default_factory=dict)
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)
    cpu_seconds: float = 1.25
    wall_seconds: float = 2.5
    flags: list[dict] = field(default_factory=list)


def run(status: str, *names: str, message: str = "", bad_input: bool = False) -> list[dict]:
    """One test result per name, all with `status`; failures get a default message."""
    if not message and status != "passed":
        message = {"todo": "not implemented yet: a stub"}.get(status, f"{status}: it went wrong")
    return [dict(test=name, status=status, message=message, bad_input=bad_input) for name in names]


def tokenizer(passed: int, failed_message: str = "decode('Hi') gave 'hi', not 'Hi'") -> list[dict]:
    """The 4 tokenizer tests: the first `passed` pass, the others fail."""
    names = ["test_vocab", "test_encode", "test_decode", "test_round_trip"]
    return run("passed", *names[:passed]) + run("failed", *names[passed:], message=failed_message)


def a_class() -> list[Sub]:
    """Five students who, between them, leave every kata state on the page."""
    return [
        Sub(
            "alice",
            tests={
                "tokenizer": tokenizer(4),
                "batching": run("passed", "test_split", "test_pairs")
                + run("failed", "test_get_batch", message="x has shape (4, 8), not (4, 9)"),
                "bigram": run("todo", "test_forward", "test_generate"),
            },
        ),
        Sub(
            SCRIPT_NAME,
            tests={"tokenizer": run("broken", "test_vocab", "test_encode", message=IMG_MESSAGE)},
            verdicts={
                "batching": ("timed out", "its tests ran past the time limit and were stopped"),
                "bigram": ("tampered", "the harness was changed while its tests ran: pytest"),
            },
            flags=[{"file": "exercises/tokenizer.py", "line": 3, "what": "frame walking"}],
        ),
        Sub(
            '=HYPERLINK("http://x")',
            tests={
                "tokenizer": tokenizer(2),
                "batching": run("passed", "test_split", "test_pairs", "test_get_batch"),
                "bigram": run("passed", "test_forward", "test_generate"),
            },
        ),
        Sub(
            "bob",
            tests={
                "tokenizer": tokenizer(2, "encode('é') did not raise a ValueError"),
                "batching": run("todo", "test_split", "test_pairs", "test_get_batch"),
                "bigram": run("broken", "test_forward", "test_generate", message="NameError"),
            },
        ),
        Sub("zoë", tests={"tokenizer": run("todo", "test_vocab", "test_encode")}),
    ]
