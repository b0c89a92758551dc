"""The corpus installer: verified, atomic, one-line errors that say how to fix them."""

import hashlib
import os
import time
from pathlib import Path

import pytest

from gptkata import data
from tests.tooling.repo import gptkata, scratch


@pytest.fixture(scope="module")
def corpus_bytes() -> bytes:
    return data.read_corpus().encode("utf-8")


def test_installed_corpus_is_the_verified_one(corpus_bytes):
    assert len(corpus_bytes) == data.LENGTH
    assert hashlib.sha256(corpus_bytes).hexdigest() == data.SHA256


def test_install_from_a_local_copy(tmp_path, corpus_bytes):
    source = tmp_path / "input.txt"
    source.write_bytes(corpus_bytes)
    target = data.install_from(source, folder=tmp_path / "data")
    assert target == tmp_path / "data" / data.FILENAME
    assert target.read_bytes() == corpus_bytes
    assert [p.name for p in target.parent.iterdir()] == [data.FILENAME], "no temporary file left"


def test_a_wrong_file_is_refused_and_nothing_is_written(tmp_path, corpus_bytes):
    source = tmp_path / "input.txt"
    source.write_bytes(corpus_bytes[:-10])  # truncated
    folder = tmp_path / "data"
    with pytest.raises(data.CorpusError) as error:
        data.install_from(source, folder=folder)
    message = str(error.value)
    assert "not the tiny Shakespeare corpus" in message and "SOURCE=" in message
    assert "\n" not in message
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_wrong_file_never_replaces_a_good_corpus(tmp_path, corpus_bytes):
    folder = tmp_path / "data"
    good = tmp_path / "good.txt"
    good.write_bytes(corpus_bytes)
    data.install_from(good, folder=folder)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"not shakespeare")
    with pytest.raises(data.CorpusError):
        data.install_from(bad, folder=folder)
    assert data.corpus_path(folder).read_bytes() == corpus_bytes


def test_a_missing_source_says_so(tmp_path):
    with pytest.raises(data.CorpusError, match="does not exist"):
        data.install_from(tmp_path / "nowhere.txt", folder=tmp_path)


def test_an_unreachable_url_is_a_one_line_error_naming_the_offline_fix(tmp_path):
    # Port 9 on the loopback address: nothing listens, the connection is refused at once.
    with pytest.raises(data.CorpusError) as error:
        data.download("http://127.0.0.1:9/input.txt", folder=tmp_path, timeout=5)
    message = str(error.value)
    assert "could not download" in message and "make data SOURCE=" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_download_of_the_wrong_bytes_is_refused(tmp_path):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("To be, or not to be")
    folder = tmp_path / "data"
    with pytest.raises(data.CorpusError, match="not the tiny Shakespeare corpus"):
        data.download(wrong.as_uri(), folder=folder)
    assert not data.corpus_path(folder).exists()


def test_a_download_of_the_right_bytes_is_installed(tmp_path, corpus_bytes):
    source = tmp_path / "served.txt"
    source.write_bytes(corpus_bytes)
    target = data.download(source.as_uri(), folder=tmp_path / "data")
    assert target.read_bytes() == corpus_bytes


def test_reading_a_missing_corpus_gives_the_make_data_instruction(tmp_path):
    with pytest.raises(data.CorpusError) as error:
        data.read_corpus(tmp_path)
    assert "make data" in str(error.value)


def test_the_command_line_reports_errors_in_one_line_and_exits_1(tmp_path, capsys):
    assert data.main(["--source", str(tmp_path / "missing.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("make data: ") and err.count("\n") == 1


@pytest.fixture
def own_corpus(copy, corpus_bytes):
    """The scratch copy with a corpus of its own (not a link to the real data/)."""
    (copy / "data").unlink()
    (copy / "data").mkdir()
    data.corpus_path().write_bytes(corpus_bytes)
    return data.corpus_path()


@pytest.mark.parametrize("change", ["append", "truncate", "same size"])
def test_a_changed_installed_corpus_is_caught_with_the_line_that_reinstalls_it(own_corpus, change):
    blob = own_corpus.read_bytes()
    changed = {"append": blob + b"x", "truncate": blob[:-100], "same size": b"X" + blob[1:]}
    own_corpus.write_bytes(changed[change])

    with pytest.raises(data.CorpusError) as error:
        data.read_corpus()

    message = str(error.value)
    assert message.startswith("data/tinyshakespeare.txt has changed since it was installed")
    assert "make data SOURCE=" in message and "\n" not in message


def test_an_intact_corpus_is_hashed_once_then_known_by_its_size_time_and_inode(
    own_corpus, monkeypatch
):
    data.verify()
    monkeypatch.setattr(data, "sha256", lambda blob: pytest.fail("hashed again"))

    data.verify()
    assert data.read_corpus().startswith("First Citizen")


def test_an_edit_in_place_whose_modification_time_is_put_back_is_still_caught(own_corpus):
    # The reliability probe: same size, same inode, mtime restored with os.utime - the
    # cached identity still matched, so the edit was never hashed. The inode's change
    # time (ctime) moves with every write and no user can set it back.
    data.verify()  # found intact: its identity is cached
    before = own_corpus.stat()
    time.sleep(0.05)  # past the file system's clock tick, as any later edit is
    with own_corpus.open("r+b") as f:  # the same file (inode), one byte changed
        f.write(b"X")
    os.utime(own_corpus, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = own_corpus.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )

    with pytest.raises(data.CorpusError, match="has changed since it was installed"):
        data.verify()


def test_make_test_and_progress_stop_at_a_changed_corpus_before_blaming_any_kata(
    tmp_path, corpus_bytes
):
    root = scratch(tmp_path, "tokenizer")
    (root / "data").unlink()
    (root / "data").mkdir()
    (root / "data" / data.FILENAME).write_bytes(corpus_bytes + b"!")

    for args in (("test", "--kata", "tokenizer", "--impl", "solutions"), ("progress",)):
        run = gptkata(root, *args)

        assert run.returncode == 1, args
        problem = [line for line in run.stderr.splitlines() if data.FILENAME in line]
        assert len(problem) == 1 and "make data SOURCE=" in problem[0]
        assert "Traceback" not in run.stderr
        assert "build_vocab" not in run.stdout + run.stderr and "edit:" not in run.stdout


def test_a_source_of_the_wrong_size_is_refused_before_it_is_read(tmp_path, monkeypatch):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(6 * 2**30)  # 6 GB, sparse: no disk space, no memory
    monkeypatch.setattr(Path, "open", lambda *a, **k: pytest.fail("the source was opened"))
    monkeypatch.setattr(Path, "read_bytes", lambda *a, **k: pytest.fail("the source was read"))

    with pytest.raises(data.CorpusError) as error:
        data.install_from(huge, folder=tmp_path / "data")

    assert "6,442,450,944 bytes, expected 1,115,394" in str(error.value)
    assert not (tmp_path / "data").exists()


def test_ensure_installs_a_missing_corpus_and_leaves_an_installed_one_alone(tmp_path, corpus_bytes):
    source = tmp_path / "input.txt"
    source.write_bytes(corpus_bytes)
    folder = tmp_path / "data"

    assert data.ensure(source.as_uri(), folder) == folder / data.FILENAME
    assert (folder / data.FILENAME).read_bytes() == corpus_bytes
    source.unlink()  # installed now: nothing is downloaded again
    assert data.ensure(source.as_uri(), folder) is None


def test_ensure_offline_stops_with_the_one_line_that_says_make_data_source(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(data.paths, "DATA", tmp_path / "data")
    unreachable = (tmp_path / "no-network" / "input.txt").as_uri()

    status = data.main(["--ensure", "--url", unreachable])

    error = capsys.readouterr().err.strip()
    assert status == 1
    assert "\n" not in error and "make data SOURCE=path/to/input.txt" in error
    assert error.startswith("The corpus is needed first: could not download the corpus")
    assert error.endswith("; then run this command again.")  # what they ran was not make data
    assert not (tmp_path / "data" / data.FILENAME).exists()


def test_make_data_leaves_an_intact_installed_corpus_alone_offline(own_corpus, capsys):
    status = data.main(["--url", (own_corpus.parent / "no-network" / "input.txt").as_uri()])

    assert status == 0
    assert capsys.readouterr().out.startswith("corpus already installed and verified at ")
