"""OUT/report.html of `make grade` (grade_html): the class at a glance, self-contained,
every student's text escaped, and, as a real browser renders it, the same grades as
grades.json. The browser tests need Chromium; the screenshot they leave in
runs/grade-report.png is the page as an instructor first sees it."""

import json
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser

import pytest

from gptkata import paths
from gptkata.kata import grade_html, grade_report
from tests.tooling.classroom import IMG_MESSAGE, KATAS, SCRIPT_NAME, TOTALS, a_class

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SCREENSHOT = paths.RUNS / "grade-report.png"


class Elements(HTMLParser):
    """Every element of a page: its tag and attributes, in document order."""

    def __init__(self, markup: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def having(self, attribute: str) -> list[dict]:
        return [attrs for _, attrs in self.found if attribute in attrs]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """The made-up class's outputs: the report's markup and grades.json."""
    out = tmp_path_factory.mktemp("grades")
    grade_report.write(a_class(), KATAS, out, totals=TOTALS, isolation="none")
    return dict(
        path=out / "report.html",
        markup=(out / "report.html").read_text(encoding="utf-8"),
        json=json.loads((out / "grades.json").read_text(encoding="utf-8")),
        profile=out / "browser-profile",
    )


def chromium() -> str:
    """The Chromium program; the test is skipped, in one line, without one."""
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if not found:
        pytest.skip("Chromium is not installed: apt-get install chromium")
    return found


def browser(report: dict, *args: str) -> str:
    """Run headless Chromium on the report (at most 60 s); what it printed."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={report['profile']}",
        *args,
        report["path"].as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def rendered(report) -> Elements:
    """The report's DOM as Chromium has rendered it."""
    return Elements(browser(report, "--dump-dom"))


def test_the_report_loads_nothing_from_outside_itself(report):
    page = Elements(report["markup"])
    tags = {tag for tag, _ in page.found}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base"}
    assert all(attrs["href"].startswith("#") for attrs in page.having("href"))
    assert not page.having("src") and "@import" not in report["markup"]
    policy = next(a["content"] for a in page.having("http-equiv"))
    assert policy.startswith("default-src 'none'")


def test_a_students_name_and_message_are_escaped_wherever_they_appear(report):
    markup = report["markup"]
    assert "<script>" not in markup and "<img" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "&lt;img src=x onerror=alert(2)&gt;" in markup


def test_the_header_gives_the_isolation_mode_and_the_number_of_students(report):
    page = Elements(report["markup"])
    assert "not-isolated" in {attrs["id"] for attrs in page.having("id")}
    assert "<span id='student-count'>5</span> students" in report["markup"]
    assert "isolation: <b>none</b>" in report["markup"]


def test_every_student_row_links_to_a_section_of_their_own(report):
    page = Elements(report["markup"])
    links = [a["href"][1:] for a in page.having("href") if a["href"] != "#top"]
    sections = [a["id"] for tag, a in page.found if tag == "section"]
    assert links == sections and len(set(sections)) == 5
    assert sections[1] == "student-2-scriptalert1script"


def test_the_most_common_first_failure_is_counted_with_an_example(report):
    failures = grade_html.first_failures(report["json"], "tokenizer")
    assert failures[0] == ("test_decode", 2, "decode('Hi') gave 'hi', not 'Hi'")
    assert failures[1] == ("test_vocab", 1, IMG_MESSAGE)


def test_points_fall_into_bins_of_10_and_full_marks_into_the_last(report):
    document = dict(report["json"], students=[{"points": p} for p in (0, 9.99, 10, 55.56, 100)])
    bins = grade_html.point_bins(document)
    assert [(low, high) for low, high, _ in bins][:2] == [(0, 10), (10, 20)]
    assert [n for _, _, n in bins] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_the_rendered_heatmap_shows_each_students_state_of_each_kata_as_in_the_json(
    report, rendered
):
    shown = {
        (cell["data-student"], cell["data-kata"]): cell["data-state"]
        for cell in rendered.having("data-student")
    }
    expected = {
        (student["student"], kata): grade["state"]
        for student in report["json"]["students"]
        for kata, grade in student["katas"].items()
    }
    assert shown == expected
    assert set(expected.values()) == set(grade_html.STATES)  # the class has every state


def test_the_rendered_counts_per_kata_are_those_of_the_json(report, rendered):
    shown = {
        (cell["data-kata"], cell["data-state"]): int(cell["data-count"])
        for cell in rendered.having("data-count")
        if "data-kata" in cell
    }
    students = report["json"]["students"]
    for kata in KATAS:
        counts = Counter(s["katas"][kata]["state"] for s in students)
        assert {state: shown[kata, state] for state in grade_html.STATES} == {
            state: counts[state] for state in grade_html.STATES
        }


def test_the_rendered_histogram_counts_each_student_once(report, rendered):
    bars = rendered.having("data-bin")
    assert len(bars) == 10 and sum(int(bar["data-count"]) for bar in bars) == 5


def test_a_students_text_runs_no_script_and_shows_no_image_in_the_browser(rendered):
    tags = {tag for tag, _ in rendered.found}
    assert "script" not in tags and "img" not in tags
    names = {cell["data-student"] for cell in rendered.having("data-student")}
    assert SCRIPT_NAME in names


def test_a_screenshot_shows_the_heatmap_in_the_states_colors(report):
    from PIL import Image

    chromium()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    browser(report, f"--screenshot={SCREENSHOT}", "--window-size=1400,1000")
    with Image.open(SCREENSHOT) as image:
        assert image.size == (1400, 1000)
        colors = {color for _, color in image.convert("RGB").getcolors(1400 * 1000)}
    for state, (background, _, _) in grade_html.STATES.items():
        rgb = tuple(int(background[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb in colors, state
