"""The outputs of `make grade` (grade_report): points, the roster, spreadsheet-safe
cells, every kata's tests counted, the isolation mode, JUnit, the terminal table."""

import csv
import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest

from gptkata.kata import grade_report, manifest, roster
from tests.tooling.classroom import KATAS, SCRIPT_NAME, TOTALS, Sub, a_class, run, tokenizer


def graded(tmp_path, subs=None, isolation="bubblewrap", roster_file=None) -> dict:
    """Write the outputs for `subs` (the made-up class by default); what they hold."""
    subs = a_class() if subs is None else subs
    listed = roster.load(roster_file) if roster_file else None
    grade_report.write(subs, KATAS, tmp_path, totals=TOTALS, isolation=isolation, roster=listed)
    document = json.loads((tmp_path / "grades.json").read_text(encoding="utf-8"))
    with (tmp_path / "grades.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return dict(
        json=document,
        students={s["student"]: s for s in document["students"]},
        header=rows[0],
        csv=[dict(zip(rows[0], row, strict=True)) for row in rows[1:]],
    )


def with_points(monkeypatch, **points):
    """The manifest, with `points` declared for the katas named."""
    katas = tuple(dataclasses.replace(k, points=points.get(k.name)) for k in manifest.KATAS)
    monkeypatch.setattr(manifest, "KATAS", katas)


def test_without_declared_points_the_katas_share_100_equally():
    assert grade_report.kata_points(["tokenizer", "batching", "bigram", "training"]) == {
        "tokenizer": 25.0,
        "batching": 25.0,
        "bigram": 25.0,
        "training": 25.0,
    }


def test_declared_points_are_kept_and_the_other_katas_share_what_is_left(monkeypatch):
    with_points(monkeypatch, tokenizer=40)
    assert grade_report.kata_points(KATAS) == {"tokenizer": 40.0, "batching": 30.0, "bigram": 30.0}


def test_when_declared_points_reach_100_the_other_katas_are_worth_nothing(monkeypatch):
    with_points(monkeypatch, tokenizer=60, batching=50)
    assert grade_report.kata_points(KATAS) == {"tokenizer": 60.0, "batching": 50.0, "bigram": 0.0}


def test_negative_points_are_refused(monkeypatch):
    with_points(monkeypatch, bigram=-5)
    with pytest.raises(ValueError, match="points of bigram are negative"):
        grade_report.kata_points(KATAS)


def test_the_manifest_reads_a_katas_points(tmp_path):
    text = manifest.MANIFEST.read_text(encoding="utf-8")
    path = tmp_path / "katas.toml"
    path.write_text(text.replace('name = "batching"\n', 'name = "batching"\npoints = 12.5\n'))
    points = {k.name: k.points for k in manifest.load(path)}
    assert points["batching"] == 12.5 and points["tokenizer"] is None


def test_a_kata_earns_its_points_in_proportion_to_the_tests_passed(tmp_path):
    alice = graded(tmp_path)["students"]["alice"]  # 4 of 4, 2 of 3, 0 of 2; a third each
    assert [alice["katas"][k]["points"] for k in KATAS] == [33.33, 22.22, 0.0]
    assert alice["points"] == 55.56


def test_a_broken_timed_out_or_tampered_kata_earns_no_points(tmp_path):
    tests = tokenizer(3)[:3] + run("broken", "test_round_trip", message="ImportError")
    sub = Sub(
        "carol",
        tests={"tokenizer": tests},
        verdicts={"batching": ("timed out", "too slow"), "bigram": ("tampered", "pytest")},
    )
    carol = graded(tmp_path, [sub])["students"]["carol"]
    assert [carol["katas"][k]["state"] for k in KATAS] == ["broken", "timed out", "tampered"]
    assert carol["katas"]["tokenizer"]["passed"] == 3 and carol["points"] == 0.0


def test_the_csv_has_each_katas_points_and_the_total_rounded_to_two_decimals(tmp_path):
    row = next(r for r in graded(tmp_path)["csv"] if r["student"] == "alice")
    assert (row["tokenizer_points"], row["batching_points"], row["bigram_points"]) == (
        "33.33",
        "22.22",
        "0.0",
    )
    assert row["points"] == "55.56"


def test_tests_total_counts_every_test_of_a_timed_out_or_tampered_kata(tmp_path):
    grades = graded(tmp_path)["students"][SCRIPT_NAME]
    assert grades["katas"]["batching"]["total"] == 3 and grades["katas"]["bigram"]["total"] == 2
    assert grades["tests_total"] == sum(TOTALS.values())


def test_a_test_the_students_code_skipped_keeps_the_kata_from_being_done(tmp_path):
    tests = tokenizer(4)[:3] + run("skipped", "test_round_trip", message="skipped by the code")
    grade = graded(tmp_path, [Sub("dan", tests={"tokenizer": tests})])["students"]["dan"]
    assert grade["katas"]["tokenizer"]["state"] == "in progress"
    assert grade["katas"]["tokenizer"]["points"] == 25.0 and grade["katas_done"] == 0


def write_roster(tmp_path, text: str):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_roster_adds_its_columns_after_the_student_in_the_csv_and_json(tmp_path):
    path = write_roster(
        tmp_path,
        "student_id,folder,name,email,section\n7,alice,Alice Liddell,a@x.org,B\n",
    )
    out = graded(tmp_path, [a_class()[0]], roster_file=path)
    assert out["header"][:5] == ["student", "student_id", "name", "email", "section"]
    assert out["csv"][0]["email"] == "a@x.org" and out["csv"][0]["section"] == "B"
    assert out["students"]["alice"]["roster"] == {
        "student_id": "7",
        "name": "Alice Liddell",
        "email": "a@x.org",
        "section": "B",
    }


def test_a_roster_and_a_class_that_disagree_are_named_one_line_each(tmp_path):
    path = write_roster(tmp_path, "folder,name\nalice,Alice\nmallory,Mallory\n")
    out = graded(tmp_path, roster_file=path)
    problems = out["json"]["roster_problems"]
    assert len(problems) == 5  # 4 folders not in the roster, 1 row without a folder
    assert "the roster's folder 'mallory' is not among the submissions" in problems
    assert "the submission folder 'bob' is not in the roster" in problems
    assert all("\n" not in line for line in problems)
    assert out["students"]["bob"]["roster"] == {"name": ""}


def test_a_roster_without_a_folder_column_is_refused_in_one_line(tmp_path):
    path = write_roster(tmp_path, "student_id,name\n7,Alice\n")
    with pytest.raises(ValueError, match="no 'folder' column") as raised:
        roster.load(path)
    assert "\n" not in str(raised.value)


def test_a_roster_with_the_same_folder_twice_is_refused(tmp_path):
    path = write_roster(tmp_path, "folder,name\nalice,Alice\nalice,Alice again\n")
    with pytest.raises(ValueError, match="the folder 'alice' is in the roster twice"):
        roster.load(path)


FORMULAS = ['=HYPERLINK("http://x")', "@SUM(1+1)", "+1", "-1", "\tx", "\rx"]


@pytest.mark.parametrize("name", FORMULAS, ids=["equals", "at", "plus", "minus", "tab", "cr"])
def test_a_cell_that_starts_with_a_formula_character_is_written_as_text(tmp_path, name):
    row = graded(tmp_path, [Sub(name)])["csv"][0]
    assert row["student"] == "'" + name


def test_a_roster_cell_that_starts_with_an_equals_sign_is_written_as_text(tmp_path):
    path = write_roster(tmp_path, "folder,name\nalice,\"=cmd|' /C calc'!A0\"\n")
    row = graded(tmp_path, [a_class()[0]], roster_file=path)["csv"][0]
    assert row["name"] == "'=cmd|' /C calc'!A0"


def test_cells_that_cannot_be_formulas_are_written_as_they_are(tmp_path):
    row = graded(tmp_path, [Sub("zoë 'quoted' name")])["csv"][0]
    assert row["student"] == "zoë 'quoted' name" and row["tests_total"] == "9"


def test_a_class_graded_without_isolation_says_so_in_the_json_csv_and_table(tmp_path):
    out = graded(tmp_path, isolation="none")
    assert out["json"]["isolation"] == "none" and out["json"]["isolated"] is False
    assert "not isolated" in out["json"]["note"]
    assert {row["isolated"] for row in out["csv"]} == {"no"}
    lines = grade_report.table(a_class(), KATAS, totals=TOTALS, isolation="none")
    assert lines[-1] == "not isolated: graded with in-process guards only (ISOLATION=none)"


def test_a_class_graded_in_bubblewrap_is_marked_isolated(tmp_path):
    out = graded(tmp_path, isolation="bubblewrap")
    assert out["json"]["isolated"] is True and "note" not in out["json"]
    assert {row["isolated"] for row in out["csv"]} == {"yes"}
    lines = grade_report.table(a_class(), KATAS, totals=TOTALS, isolation="bubblewrap")
    assert not any("not isolated" in line for line in lines)


def test_an_unknown_isolation_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="isolation is 'docker'"):
        graded(tmp_path, isolation="docker")


def test_each_student_has_their_grading_time_and_flags(tmp_path):
    out = graded(tmp_path)
    student = out["students"][SCRIPT_NAME]
    assert (student["cpu_seconds"], student["wall_seconds"]) == (1.25, 2.5)
    assert student["flags"] == [
        {"file": "exercises/tokenizer.py", "line": 3, "what": "frame walking"}
    ]
    row = next(r for r in out["csv"] if r["student"] == SCRIPT_NAME)
    assert (row["cpu_seconds"], row["wall_seconds"], row["flags"]) == ("1.25", "2.5", "1")


def test_a_broken_kata_names_the_file_and_line_where_it_breaks(tmp_path):
    out = graded(tmp_path)
    grades = out["students"][SCRIPT_NAME]["katas"]
    assert grades["tokenizer"]["where"] == "exercises/tokenizer.py:3"
    assert grades["batching"]["where"] is None  # timed out: no line to name
    row = next(r for r in out["csv"] if r["student"] == SCRIPT_NAME)
    assert row["broken_where"] == "tokenizer: exercises/tokenizer.py:3"


def test_the_json_keeps_the_keys_other_tools_read(tmp_path):
    document = graded(tmp_path)["json"]
    assert document["katas"] == KATAS
    student = document["students"][0]
    assert {"student", "katas", "katas_done", "tests_passed", "tests_total"} <= set(student)
    assert {"state", "passed", "total", "message", "tests"} <= set(student["katas"]["tokenizer"])


def junit_of(tmp_path, name: str) -> ET.Element:
    return ET.parse(tmp_path / "junit" / f"{name}.xml").getroot()


def test_junit_gives_a_timed_out_or_tampered_kata_one_error_case(tmp_path):
    graded(tmp_path)
    suites = {s.get("name"): s for s in junit_of(tmp_path, "_script_alert_1___script_")}
    for kata in ("batching", "bigram"):
        assert len(suites[kata].findall("testcase")) == 1
        assert suites[kata].get("errors") == "1"


def test_junit_fails_failing_tests_skips_stubs_and_passes_the_rest(tmp_path):
    graded(tmp_path)
    suites = {s.get("name"): s for s in junit_of(tmp_path, "alice")}
    assert suites["tokenizer"].get("tests") == "4" and not suites["tokenizer"].findall(".//failure")
    assert suites["batching"].get("failures") == "1"
    assert len(suites["bigram"].findall(".//skipped")) == 2


def test_junit_stays_valid_xml_whatever_a_name_or_message_holds(tmp_path):
    tests = run("failed", "test_vocab", message="bell \x07 and escape \x1b[2J")
    graded(tmp_path, [Sub("eve\x01", tests={"tokenizer": tests})])
    failure = junit_of(tmp_path, "eve_").find(".//failure")
    assert failure.get("message") == "bell \ufffd and escape \ufffd[2J"


def test_two_students_whose_names_make_the_same_file_name_get_a_junit_file_each(tmp_path):
    graded(tmp_path, [Sub("a b"), Sub("a_b")])
    assert sorted(p.name for p in (tmp_path / "junit").iterdir()) == ["a_b-2.xml", "a_b.xml"]


def test_the_table_shows_a_row_per_student_with_its_totals_and_points(tmp_path):
    lines = grade_report.table(a_class(), KATAS, totals=TOTALS)
    alice = next(line for line in lines if line.startswith("alice"))
    assert alice.split()[1:] == ["done", "2/3", "-", "1/3", "6/9", "55.56"]


def test_the_table_shows_terminal_control_characters_of_a_name_as_question_marks():
    lines = grade_report.table([Sub("mal\x1b[2Jlory")], KATAS, totals=TOTALS)
    assert any(line.startswith("mal?[2Jlory ") for line in lines)
    assert not any("\x1b" in line for line in lines)
