"""OUT/report.html of `make grade`: the class at a glance, for an instructor.

One self-contained file, in five parts:

  the header    the date, the isolation mode, how many students and katas
  the heatmap   a row per student, a cell per kata colored by its state, with a
                legend; every cell carries data-student, data-kata and data-state
  the katas     per kata: how many students are in each state (cells with data-kata,
                data-state, data-count) and the three most common first failures
  the points    how the points spread over the class: a histogram, bins of 10 points
  the students  a section per student (id "student-<n>-<name>", linked from the
                heatmap): per kata the state, k of n, the first problem, where a
                broken file breaks; then the flags an instructor should look at

It draws only from the document that grades.json holds (grade_report.class_grades),
so the report and the JSON cannot disagree.

Every student's text (folder names, messages, flags) is untrusted, and is escaped
wherever it goes. Behind that, the page needs nothing from outside (inline CSS and
SVG, no script, no font, no image file), and its Content-Security-Policy says so:
a browser would refuse a script or an outside fetch even if one slipped through.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from datetime import date
from pathlib import Path

# state: (background, text color, the short label of a heatmap cell)
STATES = {
    "done": ("#2e7d32", "#ffffff", "done"),
    "in progress": ("#f9a825", "#000000", "k/n"),
    "not started": ("#e0e0e0", "#333333", "–"),
    "broken": ("#c62828", "#ffffff", "BROKEN"),
    "timed out": ("#6a1b9a", "#ffffff", "TIME"),
    "tampered": ("#212121", "#ffffff", "TAMPER"),
}
FAILED = ("failed", "broken")  # a test that ran the student's code and did not pass
POLICY = "default-src 'none'; style-src 'unsafe-inline'"
BIN = 10  # points per bar of the histogram

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { margin: 0 0 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #ccc; }
.facts { color: #555; } .warn { background: #fff3cd; border: 1px solid #e0a800;
  padding: 6px 10px; display: inline-block; }
table { border-collapse: collapse; }
td, th { padding: 3px 6px; border: 1px solid #fff; text-align: left; vertical-align: top; }
.heatmap td.state { min-width: 44px; text-align: center; font-size: 12px; }
.heatmap th { vertical-align: bottom; }
.heatmap th.kata { height: 110px; font-weight: normal; }
.heatmap th.kata span { writing-mode: vertical-rl; transform: rotate(180deg); }
.heatmap th.name { max-width: 260px; overflow-wrap: anywhere; font-weight: normal;
  vertical-align: middle; }
.legend { display: flex; gap: 16px; list-style: none; padding: 0; flex-wrap: wrap; }
.katas td, .katas th, .student td, .student th { border: 1px solid #ddd; }
.katas td.count { text-align: right; } .katas td.zero { color: #bbb; }
.failures { margin: 0; padding-left: 18px; } .message { font-family: monospace;
  font-size: 12px; overflow-wrap: anywhere; max-width: 640px; }
.student { margin-top: 20px; } .chip { padding: 1px 6px; border-radius: 3px; }
"""


def write(document: dict, path: Path, today: date | None = None) -> None:
    """Write the report of the class in `document` (what grades.json holds) to `path`."""
    path.write_text(render(document, today or date.today()), encoding="utf-8")


def render(document: dict, today: date) -> str:
    """The report as one HTML page."""
    anchors = [anchor(i, s["student"]) for i, s in enumerate(document["students"], start=1)]
    colors = "\n".join(
        f".s-{_slug(state)} {{ background: {back}; color: {text}; }}"
        for state, (back, text, _) in STATES.items()
    )
    body = "\n".join(
        [
            _header(document, today),
            _heatmap(document, anchors),
            _katas(document),
            _histogram(document),
            _students(document, anchors),
        ]
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        f"<meta http-equiv='Content-Security-Policy' content=\"{POLICY}\">\n"
        "<title>GPT Kata: class report</title>\n"
        f"<style>{CSS}{colors}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def e(text) -> str:
    """`text` escaped for HTML text and for attribute values in either kind of quotes."""
    return html.escape(str(text), quote=True)


def anchor(number: int, name: str) -> str:
    """The id of a student's section: 'student-3-alice'. The number keeps two ids apart
    when two names reduce to the same letters; the letters only help a human reader."""
    return f"student-{number}-{re.sub(r'[^A-Za-z0-9_-]', '', name)[:40]}"


def _slug(state: str) -> str:
    return state.replace(" ", "-")


def _colored(state: str) -> str:
    """The CSS class of `state`'s color (a state the legend does not know stays plain)."""
    return f"s-{_slug(state)}" if state in STATES else ""


def _header(document: dict, today: date) -> str:
    students, katas = len(document["students"]), len(document["katas"])
    lines = [
        "<header id='top'><h1>GPT Kata: class report</h1>",
        f"<p class='facts'>{today.isoformat()} · <span id='student-count'>{students}</span> "
        f"students · {katas} katas · isolation: <b>{e(document['isolation'])}</b></p>",
    ]
    if not document["isolated"]:
        lines.append(f"<p class='warn' id='not-isolated'>{e(document['note'])}</p>")
    problems = document.get("roster_problems", [])
    if problems:
        items = "".join(f"<li>{e(line)}</li>" for line in problems)
        lines.append(f"<p>The roster and the submissions disagree:</p><ul>{items}</ul>")
    return "\n".join([*lines, "</header>"])


def _legend(document: dict) -> str:
    counts = Counter(g["state"] for s in document["students"] for g in s["katas"].values())
    items = "".join(
        f"<li data-state='{e(state)}'><span class='chip {_colored(state)}'>{e(label)}</span> "
        f"{e(state)}: {counts[state]}</li>"
        for state, (_, _, label) in STATES.items()
    )
    return f"<ul class='legend'>{items}</ul>"


def _heatmap(document: dict, anchors: list[str]) -> str:
    """Students by katas, each cell colored by the kata's state."""
    katas = document["katas"]
    head = "".join(f"<th class='kata' title='{e(k)}'><span>{e(k)}</span></th>" for k in katas)
    rows = []
    for student, link in zip(document["students"], anchors, strict=True):
        name = student["student"]
        cells = "".join(_heat_cell(name, kata, student["katas"][kata]) for kata in katas)
        rows.append(
            f"<tr><th class='name'><a href='#{link}'>{e(name)}</a></th>{cells}"
            f"<td>{student['points']:.2f}</td><td>{len(student['flags']) or ''}</td></tr>"
        )
    return (
        "<h2>Students by kata</h2>\n" + _legend(document) + "\n<table class='heatmap'>"
        f"<tr><th>student</th>{head}<th>points</th><th>flags</th></tr>\n"
        + "\n".join(rows)
        + "</table>"
    )


def _heat_cell(name: str, kata: str, grade: dict) -> str:
    state = grade["state"]
    label = STATES.get(state, ("", "", state))[2]
    if state == "in progress":
        label = f"{grade['passed']}/{grade['total']}"
    title = f"{kata}: {state}, {grade['passed']} of {grade['total']}. {grade['message']}"
    return (
        f"<td class='state {_colored(state)}' data-student='{e(name)}' data-kata='{e(kata)}' "
        f"data-state='{e(state)}' title='{e(title)}'>{e(label)}</td>"
    )


def first_failures(document: dict, kata: str) -> list[tuple[str, int, str]]:
    """The most common first failures of `kata`: (test, how many students, an example).

    A student's first failure is the first of the kata's tests that ran their code and
    did not pass (failed, or broken); a stub (todo) is work not begun, not a failure.
    Parametrized cases count as their test: 'test_x[3]' is 'test_x'."""
    seen: Counter[str] = Counter()
    example: dict[str, str] = {}
    for student in document["students"]:
        tests = student["katas"][kata]["tests"]
        first = next((t for t in tests if t["status"] in FAILED), None)
        if first:
            test = first["test"].split("[", 1)[0]
            seen[test] += 1
            example.setdefault(test, first["message"])
    return [(test, count, example[test]) for test, count in seen.most_common(3)]


def _katas(document: dict) -> str:
    """Per kata: the students in each state, and the most common first failures."""
    head = "".join(f"<th>{e(state)}</th>" for state in STATES)
    rows = []
    for kata in document["katas"]:
        counts = Counter(s["katas"][kata]["state"] for s in document["students"])
        cells = "".join(
            f"<td class='count{' zero' if not counts[state] else ''}' data-kata='{e(kata)}' "
            f"data-state='{e(state)}' data-count='{counts[state]}'>{counts[state]}</td>"
            for state in STATES
        )
        failures = "".join(
            f"<li><code>{e(test)}</code>: {count} student{'s' if count > 1 else ''}, e.g. "
            f"<span class='message'>{e(message)}</span></li>"
            for test, count, message in first_failures(document, kata)
        )
        worth = document["kata_points"][kata]
        rows.append(
            f"<tr><th>{e(kata)}</th><td class='count'>{worth:.2f}</td>{cells}"
            f"<td><ol class='failures'>{failures}</ol></td></tr>"
        )
    return (
        "<h2>Katas</h2>\n<table class='katas'><tr><th>kata</th><th>worth</th>"
        f"{head}<th>most common first failures</th></tr>\n" + "\n".join(rows) + "</table>"
    )


def point_bins(document: dict) -> list[tuple[float, float, int]]:
    """The histogram's bars: (from, to, students), bins of 10 points from 0 to the
    most a student can earn (at least 100); a bin holds its lower edge, the last bin
    its upper edge too."""
    most = max(100.0, sum(document["kata_points"].values()))
    count = math.ceil(most / BIN)
    bars = [0] * count
    for student in document["students"]:
        bars[min(int(student["points"] // BIN), count - 1)] += 1
    return [(i * BIN, min((i + 1) * BIN, most), n) for i, n in enumerate(bars)]


def _histogram(document: dict) -> str:
    """The distribution of points as an inline SVG bar chart."""
    bins = point_bins(document)
    tallest = max([1, *(n for _, _, n in bins)])
    step, height, base = 56, 160, 190
    parts = []
    for i, (low, high, n) in enumerate(bins):
        x, bar = 40 + i * step, round(height * n / tallest)
        parts.append(
            f"<g class='bin' data-bin='{low:g}-{high:g}' data-count='{n}'>"
            f"<rect x='{x}' y='{base - bar}' width='{step - 8}' height='{bar}' fill='#1565c0'/>"
            f"<text x='{x + (step - 8) / 2}' y='{base - bar - 4}' text-anchor='middle'>{n}</text>"
            f"<text x='{x + (step - 8) / 2}' y='{base + 16}' text-anchor='middle' "
            f"font-size='11'>{low:g}–{high:g}</text></g>"
        )
    width = 60 + len(bins) * step
    return (
        "<h2>Points</h2>\n<p class='facts'>students per 10 points</p>\n"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{base + 30}' "
        f"role='img' aria-label='students per 10 points' font-family='sans-serif' font-size='12'>"
        f"<line x1='36' y1='{base}' x2='{width - 16}' y2='{base}' stroke='#333'/>"
        + "".join(parts)
        + "</svg>"
    )


def _students(document: dict, anchors: list[str]) -> str:
    sections = [
        _student(student, link, document)
        for student, link in zip(document["students"], anchors, strict=True)
    ]
    return "<h2>Students</h2>\n" + "\n".join(sections)


def _student(student: dict, link: str, document: dict) -> str:
    """One student's section: the totals, a row per kata, the flags."""
    most = sum(document["kata_points"].values())
    facts = [
        f"points {student['points']:.2f} of {most:.2f}",
        f"katas done {student['katas_done']} of {len(document['katas'])}",
        f"tests passed {student['tests_passed']} of {student['tests_total']}",
        f"cpu {student['cpu_seconds']:.1f} s, wall {student['wall_seconds']:.1f} s",
        *(f"{key}: {value}" for key, value in student.get("roster", {}).items()),
    ]
    rows = []
    for kata in document["katas"]:
        grade = student["katas"][kata]
        rows.append(
            f"<tr data-kata='{e(kata)}'><th>{e(kata)}</th><td><span class='chip "
            f"{_colored(grade['state'])}'>{e(grade['state'])}</span></td>"
            f"<td>{grade['passed']} of {grade['total']}</td><td>{grade['points']:.2f}</td>"
            f"<td class='message'>{e(grade['message'])}</td><td>{e(grade['where'] or '')}</td></tr>"
        )
    flags = "".join(
        f"<li><code>{e(flag.get('file', ''))}:{e(flag.get('line', ''))}</code> "
        f"{e(flag.get('what', ''))}</li>"
        for flag in student["flags"]
    )
    return (
        f"<section class='student' id='{link}'><h3>{e(student['student'])}</h3>\n"
        f"<p class='facts'>{' · '.join(e(fact) for fact in facts)}</p>\n"
        "<table><tr><th>kata</th><th>state</th><th>tests</th><th>points</th>"
        "<th>first problem</th><th>where</th></tr>\n" + "\n".join(rows) + "</table>\n"
        f"<p>Flags for an instructor to look at: {'none' if not flags else ''}</p>"
        + (f"<ul class='flags'>{flags}</ul>" if flags else "")
        + "<p><a href='#top'>back to the top</a></p></section>"
    )
