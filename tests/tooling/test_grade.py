"""`make grade`: each submission graded in a bubblewrap sandbox, as its student edition
runs it; the tricks a clever student would try get no credit and change nothing
outside the sandbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gptkata import paths
from gptkata.kata import manifest, stubs
from tests.tooling.cheats import FORGED_PASS, PATCHED_HELPERS, PLUGIN
from tests.tooling.repo import digest

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed: apt-get install bubblewrap"
)

TOKENIZER, BATCHING = manifest.get("tokenizer"), manifest.get("batching")
SOLVED = TOKENIZER.solution_file.read_text(encoding="utf-8")
STUB = stubs.stub_source(TOKENIZER)
SECRET = "classmate-secret-7f3a"
# at most 500 processes even if the sandbox's limit were broken; each sleeps, then ends
FORKS = """
import os, time
_forked = 0
for _ in range(500):
    try:
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
    except OSError:
        break
    _forked += 1
raise RuntimeError(f"forked {_forked} processes")
"""


def cheats(root: Path) -> dict[str, str]:
    """name -> the student's tokenizer.py: every trick is appended to a solved file,
    so a trick that worked would show as credit."""
    outside, neighbour = root / "outside", root / "submissions" / "solved" / "exercises"
    return {
        "solved": SOLVED,
        "partial": SOLVED.replace("return sorted(set(text))", "return sorted(set(text))[::-1]"),
        "syntax": SOLVED + "def oops(:\n",
        "stub": STUB,
        "tamper": SOLVED + PATCHED_HELPERS,
        "plugin": STUB + PLUGIN,
        "forge": STUB + FORGED_PASS,
        "exit": SOLVED + "import os\nos._exit(0)\n",
        "kill": SOLVED + "import os, signal\nos.kill(0, signal.SIGKILL)\n",
        "parent": SOLVED + "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
        "stopper": SOLVED + "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n",
        # the warm process's descriptors (its socket to the grader) would give credit
        "zygote": STUB
        + "import os\ntry:\n    os.listdir(f'/proc/{os.getppid()}/fd')\n"
        + f"    exec({SOLVED!r})\nexcept OSError:\n    pass\n",
        "forks": SOLVED + FORKS,
        "memory": SOLVED + "import torch\n_big = torch.ones(50 * 10**9, dtype=torch.uint8)\n",
        "save": SOLVED + f"import torch\ntorch.save(1, {str(outside / 'saved.pt')!r})\n",
        "dirfd": SOLVED
        + (
            f"import os\n_fd = os.open({str(root / 'submissions')!r}, os.O_RDONLY)\n"
            "os.close(os.open('planted', os.O_WRONLY | os.O_CREAT, dir_fd=_fd))\n"
        ),
        "peek": SOLVED + f"raise ValueError(open({str(neighbour / 'secret.txt')!r}).read())\n",
        "reference": STUB + "from solutions.tokenizer import *  # noqa\n",
        "readfile": STUB + "exec(open('solutions/tokenizer.py').read())\n",
        "loop": SOLVED + "def build_vocab(text):\n    while True:\n        pass\n",
    }


def grade(subs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "gptkata", "grade", "--submissions", str(subs)]
    command += ["--out", str(out), "--timeout", "30", "--jobs", "2", *extra]
    return subprocess.run(
        command,
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The cheats, graded on the tokenizer kata."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    (root / "outside").mkdir()
    for name, text in cheats(root).items():
        folder = subs / name / "exercises"
        folder.mkdir(parents=True)
        (folder / "tokenizer.py").write_text(text)
    (subs / "solved" / "exercises" / "secret.txt").write_text(SECRET)
    (subs / "solved" / "Makefile").write_text("test:\n\ttouch hacked\n")  # never run
    before = digest(subs)
    run = grade(subs, root / "grades", "--kata", "tokenizer")
    left = _sandbox_processes()
    return dict(
        run=run, out=root / "grades", root=root, before=before, after=digest(subs), left=left
    )


def _sandbox_processes() -> list[str]:
    """The processes of the sandbox's user still running (a root grader drops to it)."""
    if os.geteuid() != 0:
        return []
    found = subprocess.run(["pgrep", "-u", "65534", "-a"], capture_output=True, text=True)
    return found.stdout.splitlines()


def document(out: Path) -> dict:
    return json.loads((out / "grades.json").read_text())


def states(out: Path, kata: str = "tokenizer") -> dict[str, dict]:
    return {s["student"]: s["katas"][kata] for s in document(out)["students"]}


def test_every_trick_gets_no_credit_and_honest_work_gets_its_state(graded):
    assert graded["run"].returncode == 0, graded["run"].stderr
    got = {name: grade["state"] for name, grade in states(graded["out"]).items()}
    honest = {"solved": "done", "partial": "in progress", "syntax": "broken", "stub": "not started"}
    assert {name: got[name] for name in honest} == honest
    assert got["tamper"] == "tampered" and got["forge"] == "tampered"
    for name in set(got) - set(honest) - {"tamper", "forge"}:
        assert got[name] != "done", f"{name} got credit: {states(graded['out'])[name]}"


def test_a_plugin_registered_by_walking_frames_is_refused(graded):
    grade = states(graded["out"])["plugin"]
    assert grade["state"] != "done" and grade["passed"] < 13


def test_the_references_are_not_in_the_sandbox(graded):
    for name in ("reference", "readfile"):
        grade = states(graded["out"])[name]
        assert grade["passed"] < 13 and grade["state"] != "done", grade


def test_no_file_appears_outside_the_sandbox_and_submissions_are_unchanged(graded):
    assert graded["after"] == graded["before"]
    assert list((graded["root"] / "outside").iterdir()) == []
    assert not (graded["root"] / "submissions" / "planted").exists()


def test_a_classmates_file_cannot_be_read(graded):
    assert SECRET not in (graded["out"] / "grades.json").read_text()
    assert "No such file" in states(graded["out"])["peek"]["message"]


def test_nothing_the_graded_code_started_is_left_running(graded):
    assert graded["left"] == []


# left behind by one submission, for the next one graded in the same warm sandbox: a
# copy of its solution, a conftest.py for the next run, and a process that keeps the
# copy there (it ends by itself after 120 s)
LEAVER = """
import subprocess, sys
_source = open(__file__).read()
for _path in ("/tmp/planted.py", "/grade/planted.py"):
    open(_path, "w").write(_source)
open("/grade/conftest.py", "w").write("def pytest_runtest_logreport(report):\\n    report.outcome = 'passed'\\n")
_keeper = "import time\\nfor _ in range(2400):\\n    open('/tmp/planted.py', 'w').write(%r)\\n    time.sleep(0.05)\\n"
subprocess.Popen([sys.executable, "-c", _keeper % _source], start_new_session=True)
"""
FINDER = """
for _path in ("/tmp/planted.py", "/grade/planted.py"):
    try:
        exec(open(_path).read())
    except OSError:
        pass
"""


def test_nothing_a_submission_leaves_behind_reaches_the_next_one_in_its_sandbox(tmp_path):
    subs = tmp_path / "subs"
    for name, text in {
        "a_leaver": SOLVED + LEAVER,
        "b_finder": STUB + FINDER,
        "c_stub": STUB,
    }.items():
        folder = subs / name / "exercises"
        folder.mkdir(parents=True)
        (folder / "tokenizer.py").write_text(text)
    run = grade(subs, tmp_path / "out", "--kata", "tokenizer", "--jobs", "1")
    assert run.returncode == 0, run.stderr
    got = states(tmp_path / "out")
    assert got["a_leaver"]["state"] == "done", got["a_leaver"]
    assert (got["b_finder"]["state"], got["b_finder"]["passed"]) == (
        got["c_stub"]["state"],
        got["c_stub"]["passed"],
    ), got
    assert _sandbox_processes() == []


def test_a_process_bomb_stops_at_the_sandboxs_process_limit(graded):
    forked = re.search(r"forked (\d+) processes", states(graded["out"])["forks"]["message"])
    assert forked and int(forked[1]) < 64


def test_an_exit_or_a_kill_of_the_process_group_breaks_only_that_kata(graded):
    got = states(graded["out"])
    assert got["exit"]["state"] == "broken" and "exercises/tokenizer.py:" in got["exit"]["message"]
    assert got["kill"]["state"] == "broken"
    assert got["solved"]["state"] == "done"  # graded beside them, unharmed


def test_suspicious_code_is_flagged_for_the_instructor_not_failed(graded):
    flagged = {s["student"]: s["flags"] for s in document(graded["out"])["students"]}
    assert any("frame" in f["what"] for f in flagged["plugin"])
    assert any("/proc" in f["what"] for f in flagged["forge"])
    assert flagged["solved"] == []


def test_every_kata_counts_all_its_tests_whatever_its_state(graded):
    totals = {s["student"]: s["tests_total"] for s in document(graded["out"])["students"]}
    assert set(totals.values()) == {13}


def test_grading_without_submissions_is_one_line():
    run = subprocess.run(
        [sys.executable, "-m", "gptkata", "grade"], cwd=paths.ROOT, capture_output=True, text=True
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "SUBMISSIONS=" in run.stderr


def test_without_bubblewrap_grading_stops_with_one_line_naming_the_package(tmp_path):
    (tmp_path / "subs" / "a").mkdir(parents=True)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    run = subprocess.run(
        [sys.executable, "-m", "gptkata", "grade", "--submissions", str(tmp_path / "subs")],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "apt-get install bubblewrap" in run.stderr and "ISOLATION=none" in run.stderr


def _two_kata_class(root: Path) -> Path:
    """Students with a tokenizer and a batching kata each."""
    solved_batching = BATCHING.solution_file.read_text(encoding="utf-8")
    subs = root / "subs"
    for name, (tokenizer, batching) in {
        "solved": (SOLVED, solved_batching),
        "exits": (SOLVED + "import os\nos._exit(0)\n", solved_batching),
        "partial": (
            SOLVED.replace("sorted(set(text))", "sorted(set(text))[::-1]"),
            solved_batching,
        ),
        "loop": (
            SOLVED + "def build_vocab(text):\n    while True:\n        pass\n",
            solved_batching,
        ),
    }.items():
        folder = subs / name / "exercises"
        folder.mkdir(parents=True)
        (folder / "tokenizer.py").write_text(tokenizer)
        (folder / "batching.py").write_text(batching)
    return subs


def counts(out: Path) -> dict:
    return {
        (s["student"], kata): (g["state"], g["passed"], g["total"])
        for s in document(out)["students"]
        for kata, g in s["katas"].items()
    }


@pytest.fixture(scope="module")
def two_katas(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-katas")
    subs = _two_kata_class(root)
    run = grade(subs, root / "quiet", "--kata", "tokenizer", "--kata", "batching")
    assert run.returncode == 0, run.stderr
    return dict(root=root, subs=subs, quiet=root / "quiet")


def test_the_grade_is_what_the_students_own_edition_shows(two_katas, tmp_path):
    edition = tmp_path / "edition"
    subprocess.run(
        [sys.executable, "-m", "gptkata", "release", "--out", str(edition)],
        cwd=paths.ROOT,
        check=True,
        capture_output=True,
    )
    (edition / "data" / "tinyshakespeare.txt").symlink_to(paths.DATA / "tinyshakespeare.txt")
    graded = counts(two_katas["quiet"])
    assert graded[("exits", "batching")][0] == "broken"  # it builds on their own tokenizer
    for student in ("solved", "exits", "partial"):
        for file in (two_katas["subs"] / student / "exercises").iterdir():
            shutil.copy(file, edition / "exercises" / file.name)
        for kata in ("tokenizer", "batching"):
            run = subprocess.run(
                [sys.executable, "-m", "gptkata", "test", "--kata", kata],
                cwd=edition,
                capture_output=True,
                text=True,
                timeout=300,
            )
            state, passed, _ = graded[(student, kata)]
            said = re.search(r"(\d+) passed", run.stdout)
            assert (run.returncode == 0) == (state == "done"), (student, kata, run.stdout[-500:])
            assert (int(said[1]) if said else 0) == passed, (student, kata, run.stdout[-500:])


def test_states_are_the_same_on_a_machine_busy_with_other_work(two_katas):
    # bounded: each loop ends by itself after 600 s, and its whole group is killed below
    busy = [
        subprocess.Popen(
            ["timeout", "600", sys.executable, "-c", "while True: pass"], start_new_session=True
        )
        for _ in range(2)
    ]
    try:
        run = grade(
            two_katas["subs"],
            two_katas["root"] / "busy",
            "--kata",
            "tokenizer",
            "--kata",
            "batching",
        )
    finally:
        for process in busy:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert run.returncode == 0, run.stderr
    assert counts(two_katas["root"] / "busy") == counts(two_katas["quiet"])


def test_chain_reference_builds_on_the_references_before_the_kata_never_its_own(tmp_path):
    solved_batching = BATCHING.solution_file.read_text(encoding="utf-8")
    subs = tmp_path / "subs"
    for name, batching in {
        "borrows": stubs.stub_source(BATCHING) + "from solutions.batching import *  # noqa\n",
        "solved": solved_batching,
    }.items():
        folder = subs / name / "exercises"
        folder.mkdir(parents=True)
        (folder / "tokenizer.py").write_text(STUB)  # later katas build on the reference
        (folder / "batching.py").write_text(batching)
    run = grade(subs, tmp_path / "out", "--kata", "batching", "--chain", "reference")
    assert run.returncode == 0, run.stderr
    got = states(tmp_path / "out", "batching")
    assert got["solved"]["state"] == "done"
    assert got["borrows"]["state"] != "done" and "solutions.batching" in got["borrows"]["message"]


def test_without_isolation_the_outputs_say_not_isolated(tmp_path):
    folder = tmp_path / "subs" / "solved" / "exercises"
    folder.mkdir(parents=True)
    (folder / "tokenizer.py").write_text(SOLVED)
    run = grade(tmp_path / "subs", tmp_path / "out", "--kata", "tokenizer", "--isolation", "none")
    assert run.returncode == 0, run.stderr
    assert states(tmp_path / "out")["solved"]["state"] == "done"
    assert document(tmp_path / "out")["isolated"] is False
    assert "not isolated" in run.stdout
