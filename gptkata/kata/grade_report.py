"""What `make grade` writes and shows: per student, per kata, per test.

    OUT/grades.csv            one row per student, one column per kata, then totals
    OUT/grades.json           per student, per kata (state, k of n, the first problem),
                              per test (status, the one-line message a learner sees,
                              and bad_input: a test of the given validation)
    OUT/junit/<student>.xml   JUnit: a stub is a skipped test, a failing test a failure,
                              a file that does not import (and a kata timed out or
                              tampered) an error
    the terminal              a progress bar while it runs, a table at the end

Kata states: done, in progress (k of n), not started, broken, timed out, tampered;
test statuses: passed, failed, todo (a stub), broken, skipped.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from gptkata.kata import manifest
from gptkata.kata.results import DONE, IN_PROGRESS, KataState, Result

SHORT = {
    "done": "done",
    "not started": "-",
    "broken": "BROKEN",
    "timed out": "TIME",
    "tampered": "TAMPER",
}


def kata_grade(sub, kata: str) -> dict:
    """The grade of one kata of one submission."""
    tests = sub.tests.get(kata, [])
    if kata in sub.verdicts:
        state, why = sub.verdicts[kata]
        return dict(state=state, passed=0, total=len(tests), message=why, tests=tests)
    results = [
        Result(
            f"tests/katas/test_{kata}.py::{t['test']}",
            kata,
            t["status"],
            t["message"],
            bad_input=t.get("bad_input", False),
        )
        for t in tests
    ]
    counted = KataState(manifest.get(kata), results)
    state = counted.state if counted.total else "not started"
    problem = counted.first_problem
    return dict(
        state=state,
        passed=counted.passed,
        total=counted.total,
        message=problem.message if problem else "",
        tests=tests,
    )


def student_grades(sub, katas: list[str]) -> dict:
    grades = {kata: kata_grade(sub, kata) for kata in katas}
    return dict(
        student=sub.name,
        katas=grades,
        katas_done=sum(g["state"] == DONE for g in grades.values()),
        tests_passed=sum(g["passed"] for g in grades.values()),
        tests_total=sum(g["total"] for g in grades.values()),
    )


def cell(grade: dict) -> str:
    if grade["state"] == IN_PROGRESS:
        return f"in progress ({grade['passed']} of {grade['total']})"
    return grade["state"]


def write(graded: list, katas: list[str], out: Path) -> None:
    """grades.csv, grades.json and junit/<student>.xml in `out`."""
    rows = [student_grades(sub, katas) for sub in graded]
    with (out / "grades.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *katas, "katas_done", "tests_passed", "tests_total"])
        for row in rows:
            writer.writerow(
                [
                    row["student"],
                    *(cell(row["katas"][k]) for k in katas),
                    row["katas_done"],
                    row["tests_passed"],
                    row["tests_total"],
                ]
            )
    document = {"katas": katas, "students": rows}
    (out / "grades.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    (out / "junit").mkdir(exist_ok=True)
    for row in rows:
        tree = ET.ElementTree(junit(row, katas))
        tree.write(
            out / "junit" / f"{_safe(row['student'])}.xml", encoding="utf-8", xml_declaration=True
        )


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)


def junit(row: dict, katas: list[str]) -> ET.Element:
    """A student's grades as JUnit XML: one testsuite per kata."""
    suites = ET.Element("testsuites", name=row["student"])
    for kata in katas:
        grade = row["katas"][kata]
        suite = ET.SubElement(suites, "testsuite", name=kata)
        counts = dict(tests=0, failures=0, errors=0, skipped=0)
        cases = grade["tests"] if grade["state"] not in ("timed out", "tampered") else []
        if not cases and grade["state"] in ("timed out", "tampered", "broken"):
            cases = [dict(test=kata, status="error", message=grade["message"])]
        for test in cases:
            case = ET.SubElement(
                suite, "testcase", classname=f"{row['student']}.{kata}", name=test["test"]
            )
            counts["tests"] += 1
            status = test["status"]
            if status == "todo":
                ET.SubElement(case, "skipped", message=test["message"])
                counts["skipped"] += 1
            elif status == "skipped":
                ET.SubElement(case, "skipped", message=test["message"] or "skipped")
                counts["skipped"] += 1
            elif status in ("broken", "error"):
                ET.SubElement(case, "error", message=test["message"])
                counts["errors"] += 1
            elif status != "passed":
                ET.SubElement(case, "failure", message=test["message"])
                counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
    return suites


def table(graded: list, katas: list[str]) -> list[str]:
    """The terminal table: a row per student, a short cell per kata, the totals."""
    rows = [student_grades(sub, katas) for sub in graded]
    width = max([7, *(len(r["student"]) for r in rows)])
    columns = [max(6, min(len(k), 8)) for k in katas]
    head = f"{'student':<{width}}  " + " ".join(
        f"{k[:c]:<{c}}" for k, c in zip(katas, columns, strict=True)
    )
    lines = ["", head + "  katas  tests"]
    for r in rows:
        cells = []
        for kata, c in zip(katas, columns, strict=True):
            g = r["katas"][kata]
            short = SHORT.get(g["state"], f"{g['passed']}/{g['total']}")
            cells.append(f"{short:<{c}}")
        done = f"{r['katas_done']}/{len(katas)}"
        lines.append(
            f"{r['student']:<{width}}  {' '.join(cells)}  {done:<5}  {r['tests_passed']}/{r['tests_total']}"
        )
    lines.append(
        "(done; k/n in progress; - not started; BROKEN does not import; TIME timed out; TAMPER tampered)"
    )
    return lines


class ProgressBar:
    """'grading [#######-------------]  12/60' on one line of a terminal (or stderr)."""

    def __init__(self, stream, total: int = 0):
        self.stream, self.total, self.done = stream, total, 0

    def start(self, total: int) -> None:
        self.total = total
        self._draw()

    def step(self, _submission=None) -> None:
        self.done += 1
        self._draw()

    def _draw(self) -> None:
        width = 30
        filled = round(width * self.done / self.total) if self.total else 0
        self.stream.write(
            f"\rgrading [{'#' * filled}{'-' * (width - filled)}] {self.done:>3}/{self.total}"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
