"""`make watch`: which file events rerun the tests, when a burst of saves is over,
when to poll, and what runs next - all plain functions, tested with a fake clock and
fake events (nothing here waits for the file system)."""

from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest, watch
from gptkata.kata.results import KataState, Result

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
