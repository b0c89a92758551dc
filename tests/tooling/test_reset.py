"""`make reset KATA=<name>`: the pristine stub back, the learner's version kept."""

from datetime import datetime
from pathlib import Path

from gptkata import cli, paths
from gptkata.kata import manifest, reset, stubs

TOKENIZER = manifest.get("tokenizer")


def test_reset_backs_up_the_learners_version_then_restores_the_stub(copy):
    mine = "# my tokenizer, half done\n" + stubs.stub_source(TOKENIZER)
    TOKENIZER.exercise_file.write_text(mine)

    message = reset.reset(TOKENIZER, now=datetime(2025, 3, 14, 9, 30, 15))

    backup = paths.BACKUPS / "tokenizer-20250314-093015.py"
    assert backup.read_text() == mine
    assert TOKENIZER.exercise_file.read_text() == stubs.stub_source(TOKENIZER)
    assert "backups/tokenizer-20250314-093015.py" in message
    assert "cp backups/tokenizer-20250314-093015.py exercises/tokenizer.py" in message


def test_backups_are_never_overwritten(copy):
    moment = datetime(2025, 3, 14, 9, 30, 15)
    for version in ("first", "second"):
        TOKENIZER.exercise_file.write_text(f"# {version}\n")
        reset.reset(TOKENIZER, now=moment)

    kept = sorted(p.name for p in paths.BACKUPS.iterdir())
    assert kept == ["tokenizer-20250314-093015-2.py", "tokenizer-20250314-093015.py"]
    assert (paths.BACKUPS / kept[1]).read_text() == "# first\n"
    assert (paths.BACKUPS / kept[0]).read_text() == "# second\n"


def test_a_pristine_kata_needs_no_backup(copy):
    message = reset.reset(TOKENIZER)

    assert "already the pristine stub" in message
    assert not paths.BACKUPS.exists()


def test_a_missing_exercise_file_is_restored(copy):
    TOKENIZER.exercise_file.unlink()

    message = reset.reset(TOKENIZER)

    assert TOKENIZER.exercise_file.read_text() == stubs.stub_source(TOKENIZER)
    assert "missing" in message and not paths.BACKUPS.exists()


def test_reset_without_a_kata_changes_nothing_and_lists_the_katas(copy, capsys):
    TOKENIZER.exercise_file.write_text("# mine\n")

    assert cli.main(["reset"]) == 2

    assert "make reset KATA=<name>" in capsys.readouterr().err
    assert TOKENIZER.exercise_file.read_text() == "# mine\n"


def test_backups_that_is_a_file_is_one_line_and_nothing_changes(copy, capsys):
    TOKENIZER.exercise_file.write_text("# mine\n")
    paths.BACKUPS.write_text("not a folder\n")

    assert cli.main(["reset", "--kata", "tokenizer"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "backups is a file, not a folder" in err
    assert "nothing was changed" in err
    assert TOKENIZER.exercise_file.read_text() == "# mine\n"
    assert paths.BACKUPS.read_text() == "not a folder\n"


def test_backups_that_is_a_dangling_link_says_so_in_one_line(copy, capsys, tmp_path):
    TOKENIZER.exercise_file.write_text("# mine\n")
    paths.BACKUPS.symlink_to(tmp_path / "gone")

    assert cli.main(["reset", "--kata", "tokenizer"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a link to" in err and "does not exist" in err
    assert "chmod" not in err
    assert TOKENIZER.exercise_file.read_text() == "# mine\n"


def test_an_unwritable_backups_folder_is_one_line_and_nothing_changes(copy, capsys, monkeypatch):
    TOKENIZER.exercise_file.write_text("# mine\n")
    paths.BACKUPS.mkdir()
    real_open = Path.open

    def refused(self, *args, **kwargs):  # what a read-only folder does (the suite may run as root)
        if self.parent == paths.BACKUPS:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refused)

    assert cli.main(["reset", "--kata", "tokenizer"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(Permission denied)" in err and "chmod u+w backups" in err
    assert TOKENIZER.exercise_file.read_text() == "# mine\n"
    assert list(paths.BACKUPS.iterdir()) == []
