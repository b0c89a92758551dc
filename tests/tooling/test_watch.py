"""`make watch`: which file events rerun the tests, when a burst of saves is over,
when to poll, and what runs next - all plain functions, tested with a fake clock and
fake events (nothing here waits for the file system)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gptkata import paths
from gptkata.kata import cache, manifest, progress, watch
from gptkata.kata.results import KataState, Result
from tests.tooling.repo import break_syntax, exercise, scratch, solve, solve_all_but

EXERCISE = str(paths.EXERCISES / "tokenizer.py")


def test_saves_of_kata_files_count():
    assert watch.saved_path("modified", EXERCISE) == EXERCISE
    assert watch.saved_path("created", EXERCISE) == EXERCISE
    assert watch.saved_path("closed", EXERCISE) == EXERCISE
    # an editor that writes a temporary file and renames it over the kata file
    temporary = str(paths.EXERCISES / ".tokenizer.py.tmp1234")
    assert watch.saved_path("moved", temporary, EXERCISE) == EXERCISE


def test_editor_temporaries_caches_reads_and_folders_do_not():
    folder = paths.EXERCISES
    for name in (
        ".tokenizer.py.swp",
        "tokenizer.py~",
        ".#tokenizer.py",
        "#tokenizer.py#",
        "tokenizer.py___jb_tmp___",
        "4913",
        "__init__.py",
    ):
        assert watch.saved_path("modified", str(folder / name)) is None, name
    assert (
        watch.saved_path("modified", str(folder / "__pycache__" / "tokenizer.cpython-311.pyc"))
        is None
    )
    assert watch.saved_path("modified", str(paths.SOLUTIONS / "tokenizer.py")) is None
    assert watch.saved_path("opened", EXERCISE) is None  # the tests read the files
    assert watch.saved_path("closed_no_write", EXERCISE) is None
    assert watch.saved_path("modified", str(folder), is_directory=True) is None


def test_a_burst_of_saves_runs_the_tests_once_after_it_is_quiet():
    debouncer = watch.Debouncer(quiet=0.4)
    assert not debouncer.ready(now=100.0)

    for moment in (100.0, 100.05, 100.1):  # one save, three events
        debouncer.add(EXERCISE, now=moment)

    assert not debouncer.ready(now=100.3)
    assert abs(debouncer.wait(now=100.3) - 0.2) < 1e-9  # until 0.4 s after the last
    assert debouncer.ready(now=100.5)
    assert debouncer.take() == {EXERCISE}
    assert not debouncer.ready(now=200.0)  # taken: nothing pending any more


def test_a_save_during_the_quiet_time_postpones_the_run():
    debouncer = watch.Debouncer(quiet=0.4)
    debouncer.add(EXERCISE, now=10.0)
    debouncer.add(str(paths.EXERCISES / "batching.py"), now=10.3)

    assert not debouncer.ready(now=10.5)
    assert debouncer.ready(now=10.75)
    assert len(debouncer.take()) == 2


def test_without_pending_saves_the_wait_is_the_longest():
    assert watch.Debouncer().wait(now=5.0, longest=1.0) == 1.0


def test_polling_is_chosen_by_flag_environment_or_wsl_on_a_windows_drive():
    linux, wsl = "Linux version 6.1", "Linux version 5.15.90.1-microsoft-standard-WSL2"
    home, drive = Path("/home/me/gpt-kata"), Path("/mnt/c/Users/me/gpt-kata")

    assert watch.should_poll(False, {}, linux, home)[0] is False
    assert watch.should_poll(True, {}, linux, home)[0] is True
    assert watch.should_poll(False, {"GPTKATA_WATCH_POLL": "1"}, linux, home)[0] is True
    assert watch.should_poll(False, {}, wsl, drive)[0] is True
    assert watch.should_poll(False, {}, wsl, home)[0] is False  # WSL's own disk has events
    assert watch.should_poll(False, {"GPTKATA_WATCH_POLL": "0"}, wsl, drive)[0] is False


def state(name: str, outcomes: list[str]) -> KataState:
    kata = manifest.get(name)
    return KataState(
        kata, [Result(f"tests/katas/test_{name}.py::t", name, o, "") for o in outcomes]
    )


def test_a_finished_kata_moves_watch_on_unless_it_was_chosen():
    tokenizer = manifest.get("tokenizer")

    assert (
        watch.after(tokenizer, state("tokenizer", ["passed", "passed"]), chosen=False).name
        == "batching"
    )
    assert watch.after(tokenizer, state("tokenizer", ["passed", "passed"]), chosen=True) is None
    assert watch.after(tokenizer, state("tokenizer", ["passed", "failed"]), chosen=False) is None


def test_finishing_the_gpt_kata_points_to_training_your_own_gpt(monkeypatch):
    monkeypatch.setattr(cache, "lookup", lambda *args: None)  # every kata is checked anew
    monkeypatch.setattr(cache, "store", lambda *args: None)
    finished = set()

    def run(katas, chain, interrupted):  # katas 1-8 done; gpt once it is in `finished`
        kata = katas[0]
        passed = kata.number < 9 or kata.name in finished
        return [
            Result(
                f"tests/katas/test_{kata.name}.py::t", kata.name, "passed" if passed else "todo", ""
            )
        ]

    session = watch.Session(None, "reference", run)
    assert session.refresh()[0].kata.name == "gpt"
    finished.add("gpt")

    state, notes = session.refresh()

    assert state.kata.name == "fast_attention"
    assert notes[:2] == ["Kata gpt is done - on to the next one.", progress.TRAIN_YOURS]


def test_the_screen_shows_the_progress_line_the_failure_and_what_to_edit():
    failing = state("tokenizer", ["passed", "failed"])
    failing.results[1].details = "encode('a', stoi)\n  returned: [1]\n  expected: [0]"
    failing.results[1].function = "tokenizer.encode"

    lines = watch.screen_lines(failing, {EXERCISE}, "file events", "reference")
    text = "\n".join(lines)

    assert "saved: tokenizer.py" in lines[0]
    assert "tokenizer" in lines[2] and "1/2" in lines[2]
    assert "  encode('a', stoi)\n    returned: [1]\n    expected: [0]" in text
    assert "edit: exercises/tokenizer.py, function encode" in text
    assert "Watching exercises/ (file events)" in text


# --- the warm process, the regression guard, hangs and crashes: in a scratch copy ---

SESSION = """
import json, os, sys
from gptkata.kata import manifest, warm, watch
warm.warm_up()
chosen = os.environ.get("WATCH_KATA")
session = watch.Session(manifest.get(chosen) if chosen else None, "reference")
for line in sys.stdin:  # one line from the test: one refresh, as after a save
    state, notes = session.refresh(saved=line.strip() or None)
    first = state.first_problem if state else None
    print(json.dumps({
        "current": state.kata.name if state else None,
        "state": state.state if state else None,
        "notes": notes,
        "message": first.message if first else "",
    }), flush=True)
"""


class Watcher:
    """A watch session in the scratch copy at `root`, one refresh per `step()`."""

    def __init__(self, root, seconds: float = 60, chosen: str = ""):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPTKATA_")}
        env.update(HYPOTHESIS_PROFILE="fast", GPTKATA_CHECK_SECONDS=str(seconds))
        env.update(WATCH_KATA=chosen)
        self.process = subprocess.Popen(
            [sys.executable, "-c", SESSION],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def step(self, saved: str = "") -> dict:
        self.process.stdin.write(f"{saved}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the watch session died"
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture
def watcher():
    started = []

    def start(root, seconds: float = 60, chosen: str = "") -> Watcher:
        started.append(Watcher(root, seconds, chosen))
        return started[-1]

    yield start
    for w in started:
        w.process.kill()
        w.process.wait()


def test_a_kata_that_was_done_and_breaks_after_a_save_comes_first_again(tmp_path, watcher):
    root = scratch(tmp_path, "tokenizer", "batching", "bigram")
    solve(root, "tokenizer")
    solve(root, "batching")
    session = watcher(root)

    first = session.step()
    assert first["current"] == "bigram" and first["state"] == "not started"

    solve_all_but(root, "batching", "get_batch")  # batching breaks while bigram is worked on
    second = session.step()

    assert second["current"] == "batching" and second["state"] == "in progress"
    assert any("Regression: kata 2, batching" in note for note in second["notes"])
    assert "batching.get_batch" in second["message"]

    solve(root, "batching")  # fixed: on to bigram again
    assert session.step()["current"] == "bigram"
    session.close()


ENDLESS = """

def build_vocab(text):
    while True:
        pass
"""


def test_an_endless_loop_is_stopped_and_named_and_a_fix_is_picked_up(tmp_path, watcher):
    root = scratch(tmp_path, "tokenizer")
    path = exercise(root, "tokenizer")
    path.write_text(path.read_text() + ENDLESS)
    loop_line = len(path.read_text().splitlines()) - 1  # while True:
    session = watcher(root, seconds=15)

    hung = session.step()

    assert hung["current"] == "tokenizer"
    assert "did not finish within 15 s" in hung["message"]
    assert any(  # the `while` line or the `pass` inside it
        f"exercises/tokenizer.py:{line} in build_vocab" in hung["message"]
        for line in (loop_line, loop_line + 1)
    )

    solve(root, "tokenizer")
    fixed = session.step()
    assert fixed["current"] is None, fixed  # every kata done: the watcher recovered
    session.close()


CRASHES = {
    "exit": "import os\n\ndef build_vocab(text):\n    os._exit(0)\n",
    "segfault": "import ctypes\n\ndef build_vocab(text):\n    return ctypes.string_at(0)\n",
}


@pytest.mark.parametrize("how", sorted(CRASHES))
def test_a_crash_is_reported_never_passed_and_the_watcher_carries_on(tmp_path, watcher, how):
    root = scratch(tmp_path, "tokenizer")
    path = exercise(root, "tokenizer")
    path.write_text(manifest.get("tokenizer").solution_file.read_text() + "\n" + CRASHES[how])
    session = watcher(root)

    crashed = session.step()

    assert crashed["current"] == "tokenizer" and crashed["state"] != "done"
    expected = "ended early" if how == "exit" else "crashed"
    assert expected in crashed["message"]

    solve(root, "tokenizer")
    assert session.step()["current"] is None
    session.close()


def test_a_check_stops_when_a_save_interrupts_it(copy):
    kata = manifest.get("tokenizer")
    with pytest.raises(watch.warm.Interrupted):
        watch.warm.check((kata,), interrupted=lambda: True)


def test_the_screen_shows_notes_before_the_progress_line():
    lines = watch.screen_lines(
        state("tokenizer", ["passed", "failed"]), set(), "file events", "reference", ["Note."]
    )
    assert lines[2] == "Note." and "tokenizer" in lines[3]


def test_watch_follows_the_kata_of_the_file_saved_last_and_says_so(tmp_path, watcher):
    root = scratch(tmp_path, "tokenizer", "batching", "bigram")
    session = watcher(root)

    assert session.step()["current"] == "tokenizer"
    followed = session.step(saved=str(root / "exercises" / "bigram.py"))

    assert followed["current"] == "bigram"
    assert any("Following your save: kata 3, bigram" in note for note in followed["notes"])
    assert session.step()["current"] == "bigram"  # it stays there until another save


def test_with_a_kata_chosen_a_finished_kata_that_breaks_still_comes_first(tmp_path, watcher):
    root = scratch(tmp_path, "tokenizer", "batching", "bigram")
    solve(root, "tokenizer")
    session = watcher(root, chosen="bigram")

    assert session.step()["current"] == "bigram"
    break_syntax(root, "tokenizer")
    broken = session.step()

    assert broken["current"] == "tokenizer" and broken["state"] == "broken"
    assert any("Regression: kata 1, tokenizer" in note for note in broken["notes"])


def test_a_check_that_did_not_finish_is_named_as_a_sentence_not_a_file_path():
    lines = watch.screen_lines(
        watch.failed_state(manifest.get("tokenizer"), "the tests of tokenizer did not finish"),
        {EXERCISE},
        "file events",
        "reference",
    )
    failure = next(line for line in lines if line.startswith("First failure:"))
    assert failure == "First failure: its tests run to the end"


def test_under_chain_mine_the_screen_names_the_earlier_kata_whatever_failed_first():
    own = Result(
        "tests/katas/test_gpt.py::test_a",
        "gpt",
        "todo",
        "not implemented yet: gpt.GPTLanguageModel.__init__ (exercises/gpt.py:77)",
        stub="gpt.GPTLanguageModel.__init__",
        function="gpt.GPTLanguageModel.__init__",
        where="exercises/gpt.py:77",
    )
    waits = Result(
        "tests/katas/test_gpt.py::test_b",
        "gpt",
        "todo",
        "gpt waits for tokenizer: not implemented yet: tokenizer.build_vocab"
        " (exercises/tokenizer.py:37)",
        details="gpt waits for tokenizer: not implemented yet: tokenizer.build_vocab",
        stub="tokenizer.build_vocab",
        function="tokenizer.build_vocab",
        where="exercises/tokenizer.py:37",
    )
    lines = watch.screen_lines(
        KataState(manifest.get("gpt"), [own, waits]), set(), "file events", "mine"
    )
    assert "gpt waits for tokenizer" in lines[2]  # the kata's own line
    assert "  gpt waits for tokenizer: not implemented yet: tokenizer.build_vocab" in lines
    assert "edit: exercises/tokenizer.py, function build_vocab (line 37)" in lines


def test_watch_says_it_is_loading_before_the_slow_start(monkeypatch, capsys):
    class Started(Exception):
        pass

    def warm_up():
        said = capsys.readouterr().out
        assert said.startswith("Loading torch and the tests once"), said
        raise Started

    monkeypatch.setattr(watch.warm, "warm_up", warm_up)
    with pytest.raises(Started):
        watch.main()
