"""`make grade`: a class of submissions graded in scratch copies, each under guards."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from gptkata import paths
from gptkata.kata import manifest, stubs
from tests.tooling.repo import digest

TOKENIZER = manifest.get("tokenizer")
SOLVED = TOKENIZER.solution_file.read_text(encoding="utf-8")
TAMPER = """
import tests.expect as _expect
for _name in dir(_expect):
    if not _name.startswith("_") and callable(getattr(_expect, _name)):
        setattr(_expect, _name, lambda *args, **kwargs: None)
def build_vocab(text):
    return []
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Six students (one a whole clone), graded on the tokenizer kata."""
    root = tmp_path_factory.mktemp("grading")
    subs, elsewhere = root / "submissions", root / "elsewhere.txt"
    students = {
        "solved": SOLVED,
        "partial": SOLVED.replace("return sorted(set(text))", "return sorted(set(text))[::-1]"),
        "syntax": SOLVED + "def oops(:\n",
        "tamper": stubs.stub_source(TOKENIZER) + TAMPER,
        "neighbour": SOLVED + f"open({str(subs / 'solved' / 'exercises' / 'x.py')!r}, 'w')\n",
        "escape": SOLVED + f"open({str(elsewhere)!r}, 'w').write('x')\n",
        "loop": SOLVED + "def build_vocab(text):\n    while True:\n        pass\n",
        "spawn": SOLVED + "import subprocess\nsubprocess.run(['true'])\n",
        "stub": stubs.stub_source(TOKENIZER),
    }
    for name, text in students.items():
        folder = subs / name / ("exercises" if name == "solved" else "")
        folder.mkdir(parents=True)
        (folder / "tokenizer.py").write_text(text)
    (subs / "solved" / "Makefile").write_text("test:\n\ttouch hacked\n")  # never run
    before = digest(subs)
    out = root / "grades"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gptkata",
            "grade",
            "--submissions",
            str(subs),
            "--out",
            str(out),
            "--timeout",
            "10",
            "--jobs",
            "2",
            "--kata",
            "tokenizer",
        ],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return dict(run=run, out=out, before=before, after=digest(subs), elsewhere=elsewhere)


def states(graded) -> dict[str, str]:
    document = json.loads((graded["out"] / "grades.json").read_text())
    return {s["student"]: s["katas"]["tokenizer"] for s in document["students"]}


def test_grading_exits_0_and_gives_each_submission_its_state(graded):
    assert graded["run"].returncode == 0, graded["run"].stderr
    got = {name: grade["state"] for name, grade in states(graded).items()}
    assert got == {
        "solved": "done",
        "partial": "in progress",
        "syntax": "broken",
        "tamper": "tampered",
        "neighbour": "broken",
        "escape": "broken",
        "loop": "timed out",
        "spawn": "broken",
        "stub": "not started",
    }


def test_a_broken_file_names_the_error_and_its_line(graded):
    message = states(graded)["syntax"]["message"]
    assert "SyntaxError" in message and "exercises/tokenizer.py:" in message


def test_writes_outside_the_scratch_folder_and_processes_are_refused(graded):
    assert "not allowed while grading" in states(graded)["neighbour"]["message"]
    assert "subprocess.Popen" in states(graded)["spawn"]["message"]
    assert not graded["elsewhere"].exists()


def test_the_submissions_are_never_changed(graded):
    assert graded["after"] == graded["before"]


def test_the_csv_has_a_row_per_student_and_a_column_per_kata(graded):
    rows = list(csv.DictReader((graded["out"] / "grades.csv").open()))
    assert len(rows) == 9
    partial = next(r for r in rows if r["student"] == "partial")
    assert partial["tokenizer"].startswith("in progress (")
    assert set(rows[0]) == {"student", "tokenizer", "katas_done", "tests_passed", "tests_total"}


def test_the_json_has_every_test_with_its_status_and_one_line_message(graded):
    tests = states(graded)["partial"]["tests"]
    assert len(tests) == 13
    failed = [t for t in tests if t["status"] == "failed"]
    assert failed and all("\n" not in t["message"] and t["message"] for t in failed)


def test_junit_skips_stubs_and_errors_broken_files(graded):
    stub = ET.parse(graded["out"] / "junit" / "stub.xml").getroot()
    # 8 stubs; the 5 tests of the given validation (marked bad_input) pass on them
    assert len(stub.findall(".//skipped")) == 8 and not stub.findall(".//failure")
    broken = ET.parse(graded["out"] / "junit" / "syntax.xml").getroot()
    assert broken.findall(".//error")
    solved = ET.parse(graded["out"] / "junit" / "solved.xml").getroot()
    suite = solved.find("testsuite")
    assert suite.get("tests") == "13" and suite.get("failures") == "0"
