"""What `make grade` writes and shows: per student, per kata, per test.

    OUT/grades.csv            one row per student: the roster's columns, a column per
                              kata, the totals, the points (in all and per kata), the
                              grading time, the flags and where broken files break
    OUT/grades.json           the same and more: per kata (state, k of n, the first
                              problem, where a broken file breaks, points), per test
                              (status, the one-line message a learner sees, and
                              bad_input: a test of the given validation), the flags
    OUT/report.html           the class at a glance, for an instructor
                              (gptkata.kata.grade_html)
    OUT/junit/<student>.xml   JUnit: a stub is a skipped test, a failing test a failure,
                              a file that does not import (and a kata timed out or
                              tampered) an error
    the terminal              a progress bar while it runs, a table at the end

Kata states: done, in progress (k of n), not started, broken, timed out, tampered;
test statuses: passed, failed, todo (a stub), broken, skipped.

Every kata counts with all of its tests, whatever happened to them: the grader's
count (`totals`) is the kata's total, so a kata that timed out, was tampered with or
skipped some of its own tests still weighs as much as everyone else's. No kata test
skips itself, so a skipped test is one the student's code skipped: it is not passed.

Points: each kata is worth its `points` from katas.toml, or an equal share of what is
left of 100 (see `kata_points`), earned in proportion to the tests passed; a broken,
timed-out or tampered kata earns nothing.

A student's folder name and every message are untrusted text: the CSV writes them so
a spreadsheet shows them as text (`spreadsheet_text`), the HTML escapes them, the
terminal replaces what it would obey rather than print.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from gptkata.kata import grade_html, manifest
from gptkata.kata.results import DONE, IN_PROGRESS, KATA_BROKEN, NOT_STARTED, KataState, Result

SHORT = {
    "done": "done",
    "not started": "-",
    "broken": "BROKEN",
    "timed out": "TIME",
    "tampered": "TAMPER",
}
ENDED = ("timed out", "tampered")  # the grader stopped the kata: its tests say nothing
EARNS_NOTHING = (KATA_BROKEN, *ENDED)
ISOLATIONS = ("bubblewrap", "none")
NOT_ISOLATED = "not isolated: graded with in-process guards only (ISOLATION=none)"
FULL_MARKS = 100.0
WHERE = re.compile(r"exercises/[\w.-]+\.py:\d+")  # 'exercises/tokenizer.py:12' in a message
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def kata_points(katas: list[str]) -> dict[str, float]:
    """What each of `katas` is worth: its `points` in katas.toml, or an equal share of
    what the katas with points leave of 100.

    Only the katas being graded share: grading one kata makes it worth 100. When the
    declared points already reach 100, the others are worth 0 (and the total may be
    over 100: declaring points is the instructor's explicit choice)."""
    declared = {kata: manifest.get(kata).points for kata in katas}
    for kata, points in declared.items():
        if points is not None and points < 0:
            raise ValueError(f"katas.toml: the points of {kata} are negative ({points})")
    shared = [kata for kata, points in declared.items() if points is None]
    left = max(0.0, FULL_MARKS - sum(p for p in declared.values() if p is not None))
    share = left / len(shared) if shared else 0.0
    return {kata: share if points is None else float(points) for kata, points in declared.items()}


def kata_grade(sub, kata: str, total: int | None = None) -> dict:
    """The grade of one kata of one submission: state, passed, total, message, where, tests.

    `total` is how many tests the kata has; without it, the tests the submission
    reported. `where` is the file:line a broken kata's message names (None otherwise)."""
    tests = sub.tests.get(kata, [])
    if kata in sub.verdicts:
        state, why = sub.verdicts[kata]
        return _grade(state, 0, total or 0, why, tests)
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
    total = counted.total if total is None else total
    state = counted.state if counted.total else NOT_STARTED
    problem = counted.first_problem
    message = problem.message if problem else ""
    if state == DONE and counted.passed < total:
        state = IN_PROGRESS
        message = f"{total - counted.passed} of its {total} tests did not pass (skipped or not run)"
    return _grade(state, counted.passed, total, message, tests)


def _grade(state: str, passed: int, total: int, message: str, tests: list[dict]) -> dict:
    found = WHERE.search(message) if state == KATA_BROKEN else None
    where = found.group(0) if found else None
    return dict(state=state, passed=passed, total=total, message=message, where=where, tests=tests)


def earned(grade: dict, worth: float) -> float:
    """The points of one kata's grade, when the kata is worth `worth`."""
    if grade["state"] in EARNS_NOTHING or not grade["total"]:
        return 0.0
    return worth * min(grade["passed"], grade["total"]) / grade["total"]


def student_grades(
    sub, katas: list[str], totals: dict[str, int] | None = None, points: dict | None = None
) -> dict:
    """One student's grades: per kata, and in all (katas done, tests, points, time, flags).

    `totals`: the number of tests of each kata (see `kata_grade`); `points`: what each
    kata is worth, `kata_points(katas)` unless given."""
    totals = totals or {}
    points = kata_points(katas) if points is None else points
    grades, score = {}, 0.0
    for kata in katas:
        grade = kata_grade(sub, kata, totals.get(kata))
        score += earned(grade, points[kata])
        tests = grade.pop("tests")  # the long list goes last
        grades[kata] = {**grade, "points": round(earned(grade, points[kata]), 2), "tests": tests}
    return dict(
        student=sub.name,
        katas=grades,
        katas_done=sum(g["state"] == DONE for g in grades.values()),
        tests_passed=sum(g["passed"] for g in grades.values()),
        tests_total=sum(g["total"] for g in grades.values()),
        points=round(score, 2),
        cpu_seconds=round(sub.cpu_seconds, 2),
        wall_seconds=round(sub.wall_seconds, 2),
        flags=list(sub.flags),
    )


def class_grades(
    graded: list, katas: list[str], *, totals: dict[str, int], isolation: str, roster=None
) -> dict:
    """The whole class as grades.json holds it (and report.html shows it)."""
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation is {isolation!r}; it is one of {', '.join(ISOLATIONS)}")
    points = kata_points(katas)
    students = []
    for sub in graded:
        row = student_grades(sub, katas, totals, points)
        students.append(
            {"student": sub.name, "roster": roster.of(sub.name) if roster else {}, **row}
        )
    document = dict(katas=katas, kata_points=points, isolation=isolation)
    document["isolated"] = isolation != "none"
    if not document["isolated"]:
        document["note"] = NOT_ISOLATED
    document["roster_problems"] = roster.problems([s.name for s in graded]) if roster else []
    document["students"] = students
    return document


def cell(grade: dict) -> str:
    if grade["state"] == IN_PROGRESS:
        return f"in progress ({grade['passed']} of {grade['total']})"
    return grade["state"]


def write(
    graded: list,
    katas: list[str],
    out: Path,
    *,
    totals: dict[str, int],
    isolation: str,
    roster=None,
) -> None:
    """grades.csv, grades.json, report.html and junit/<student>.xml in `out`.

    `totals`: the number of tests of each kata; `isolation`: "bubblewrap" or "none";
    `roster`: a gptkata.kata.roster.Roster, or None."""
    document = class_grades(graded, katas, totals=totals, isolation=isolation, roster=roster)
    write_csv(out / "grades.csv", document, roster.columns if roster else ())
    (out / "grades.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    grade_html.write(document, out / "report.html")
    (out / "junit").mkdir(exist_ok=True)
    for row, name in zip(document["students"], _file_names(document["students"]), strict=True):
        tree = ET.ElementTree(junit(row, katas))
        tree.write(out / "junit" / f"{name}.xml", encoding="utf-8", xml_declaration=True)


def spreadsheet_text(value):
    """`value` as a CSV cell that a spreadsheet shows as it is, never as a formula.

    A text starting with =, +, -, @, a tab or a carriage return is one a spreadsheet
    may evaluate (`=HYPERLINK(...)` in a folder name is a link that leaks the sheet);
    a leading single quote makes it text (the OWASP advice). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, document: dict, roster_columns: tuple[str, ...] = ()) -> None:
    """grades.csv: a row per student, every text cell safe to open in a spreadsheet."""
    katas = document["katas"]
    header = [
        "student",
        *roster_columns,
        "isolated",
        *katas,
        *("katas_done", "tests_passed", "tests_total", "points"),
        *(f"{kata}_points" for kata in katas),
        *("cpu_seconds", "wall_seconds", "flags", "broken_where"),
    ]
    isolated = "yes" if document["isolated"] else "no"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([spreadsheet_text(name) for name in header])
        for row in document["students"]:
            grades = row["katas"]
            broken = [f"{k}: {g['where']}" for k, g in grades.items() if g["where"]]
            cells = [
                row["student"],
                *(row["roster"].get(column, "") for column in roster_columns),
                isolated,
                *(cell(grades[kata]) for kata in katas),
                *(row[key] for key in ("katas_done", "tests_passed", "tests_total", "points")),
                *(grades[kata]["points"] for kata in katas),
                *(row["cpu_seconds"], row["wall_seconds"], len(row["flags"]), "; ".join(broken)),
            ]
            writer.writerow([spreadsheet_text(value) for value in cells])


def _file_names(rows: list[dict]) -> list[str]:
    """A file name per student: the folder name made safe, numbered where two collide."""
    names, taken = [], set()
    for row in rows:
        base = re.sub(r"[^\w.-]", "_", row["student"]).strip(".") or "_"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names.append(name)
    return names


def _xml(text: str) -> str:
    """`text` without the characters XML cannot hold (a learner's message may have any)."""
    return NOT_XML.sub("\ufffd", str(text))


def junit(row: dict, katas: list[str]) -> ET.Element:
    """A student's grades as JUnit XML: one testsuite per kata."""
    suites = ET.Element("testsuites", name=_xml(row["student"]))
    for kata in katas:
        grade = row["katas"][kata]
        suite = ET.SubElement(suites, "testsuite", name=kata)
        counts = dict(tests=0, failures=0, errors=0, skipped=0)
        cases = grade["tests"] if grade["state"] not in ENDED else []
        if not cases and grade["state"] in EARNS_NOTHING:
            cases = [dict(test=kata, status="error", message=grade["message"])]
        for test in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(f"{row['student']}.{kata}"),
                name=_xml(test["test"]),
            )
            counts["tests"] += 1
            status, message = test["status"], _xml(test["message"])
            if status == "todo":
                ET.SubElement(case, "skipped", message=message)
                counts["skipped"] += 1
            elif status == "skipped":
                ET.SubElement(case, "skipped", message=message or "skipped")
                counts["skipped"] += 1
            elif status in ("broken", "error"):
                ET.SubElement(case, "error", message=message)
                counts["errors"] += 1
            elif status != "passed":
                ET.SubElement(case, "failure", message=message)
                counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
    return suites


def printable(text: str) -> str:
    """`text` with every character a terminal would obey (escapes, newlines) shown as '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def table(
    graded: list,
    katas: list[str],
    *,
    totals: dict[str, int] | None = None,
    isolation: str | None = None,
) -> list[str]:
    """The terminal table: a row per student, a short cell per kata, the totals, the points.

    `totals` as in `student_grades`; `isolation` "none" adds the line that says the
    class was not isolated."""
    points = kata_points(katas)
    rows = [student_grades(sub, katas, totals, points) for sub in graded]
    names = [printable(r["student"]) for r in rows]
    width = max([7, *(len(name) for name in names)])
    columns = [max(6, min(len(k), 8)) for k in katas]
    head = f"{'student':<{width}}  " + " ".join(
        f"{k[:c]:<{c}}" for k, c in zip(katas, columns, strict=True)
    )
    lines = ["", head + "  katas  tests    points"]
    for name, r in zip(names, rows, strict=True):
        cells = []
        for kata, c in zip(katas, columns, strict=True):
            g = r["katas"][kata]
            short = SHORT.get(g["state"], f"{g['passed']}/{g['total']}")
            cells.append(f"{short:<{c}}")
        done = f"{r['katas_done']}/{len(katas)}"
        tests = f"{r['tests_passed']}/{r['tests_total']}"
        lines.append(
            f"{name:<{width}}  {' '.join(cells)}  {done:<5}  {tests:<7}  {r['points']:.2f}"
        )
    lines.append(
        "(done; k/n in progress; - not started; BROKEN does not import; TIME timed out; TAMPER tampered)"
    )
    if isolation == "none":
        lines.append(NOT_ISOLATED)
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
