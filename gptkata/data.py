"""The tiny Shakespeare corpus: install it (download or local copy), verify it, read it.

The corpus is never committed. `make data` downloads it from the URL the seed
notebook uses; `make data SOURCE=path/to/input.txt` copies a file you already have.
Either way the SHA-256 is checked *before* the file is moved into place, through a
temporary file in the same folder and an atomic rename: a partial, interrupted or
wrong download never sits at data/tinyshakespeare.txt. A source is streamed (hashed
while it is copied), and one of the wrong size is refused before it is read at all.

The installed corpus is checked again whenever the tests read it (`verify`): its
size, then its SHA-256. A corpus edited or cut short is reported with the command
that reinstalls it, instead of failing the tests of whichever kata reads it first.
The digest is computed once per version of the file: `.gptkata/corpus.json` keeps
the size, modification time, inode and inode change time of the file last found
intact, and a file that still has them is not hashed again. The modification time
alone is not enough: anyone can put it back (`touch -d`, `os.utime`) after editing
the file in place. The change time (ctime) is the kernel's: every write, and every
change of the modification time itself, sets it to now, and no call on the file
sets it back.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from gptkata import outputs, paths

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
LENGTH = 1_115_394  # characters (all ASCII, so also bytes)
FILENAME = "tinyshakespeare.txt"
INSTALL_HINT = "run `make data` (or `make data SOURCE=path/to/input.txt` for a local copy)"
CHUNK = 1 << 20  # bytes read at a time while a source is hashed and copied


class CorpusError(Exception):
    """The corpus is missing, or a candidate file is not the corpus. One line, with the fix."""


def corpus_path(folder: Path | None = None) -> Path:
    return (folder or paths.DATA) / FILENAME


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _not_the_corpus(origin: str, size: int, digest: str | None = None) -> CorpusError:
    found = f"SHA-256 {digest[:12]}..., expected {SHA256[:12]}..., " if digest else ""
    return CorpusError(
        f"{origin} is not the tiny Shakespeare corpus ({found}{size:,} bytes, expected "
        f"{LENGTH:,}); point SOURCE= at an unmodified copy of input.txt"
    )


def _install_stream(read, origin: str, folder: Path | None) -> Path:
    """Copy what `read(n)` returns into place as the corpus, hashing it on the way;
    nothing is written if it is not the corpus (more than LENGTH bytes stop the copy)."""

    def copy(target) -> None:
        digest, size = hashlib.sha256(), 0
        while size <= LENGTH:
            chunk = read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
        if size != LENGTH or digest.hexdigest() != SHA256:
            raise _not_the_corpus(origin, size, digest.hexdigest() if size == LENGTH else None)

    target = corpus_path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    return outputs.write_atomically(target, copy)


def install_from(source: Path, folder: Path | None = None) -> Path:
    """Install a local copy of the corpus (make data SOURCE=...), streamed; a file of
    the wrong size is refused before it is read."""
    source = Path(source)
    if not source.is_file():
        raise CorpusError(
            f"SOURCE={source} does not exist or is not a file; give the path of input.txt"
        )
    size = source.stat().st_size
    if size != LENGTH:
        raise _not_the_corpus(str(source), size)
    with source.open("rb") as f:
        return _install_stream(f.read, str(source), folder)


def download(url: str = URL, folder: Path | None = None, timeout: float = 30.0) -> Path:
    """Download the corpus from `url` and install it (make data), streamed: an answer
    that announces, or turns out to have, the wrong size is refused."""
    import urllib.request  # here, not at the top: 50 ms that only a download needs

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length") if response.headers else None
            if announced and announced.isdigit() and int(announced) != LENGTH:
                raise _not_the_corpus(url, int(announced))
            return _install_stream(response.read, url, folder)
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise CorpusError(
            f"could not download the corpus ({reason}); without internet, install a copy of "
            f"tiny Shakespeare's input.txt with: make data SOURCE=path/to/input.txt"
        ) from error


def _cache_file() -> Path:
    return paths.ROOT / ".gptkata" / "corpus.json"


def _identity(path: Path) -> dict:
    """What changes whenever the file does: size, modification time, inode, and the
    inode's change time, which no one can set back (see the module docstring)."""
    stat = path.stat()
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "inode": stat.st_ino,
        "ctime_ns": stat.st_ctime_ns,
    }


def verify(path: Path | None = None) -> None:
    """Check the installed corpus (its size, then its SHA-256, unless this very version
    of the file was found intact before); a one-line CorpusError with the fix if not."""
    path = path or corpus_path()
    if not path.is_file():
        raise CorpusError(f"the tiny Shakespeare corpus is not installed at {path}: {INSTALL_HINT}")
    identity = _identity(path)
    try:
        if json.loads(_cache_file().read_text(encoding="utf-8")) == identity:
            return
    except (OSError, ValueError):
        pass
    if identity["size"] == LENGTH and sha256(path.read_bytes()) == SHA256:
        try:
            outputs.write_json(_prepared(_cache_file()), identity)
        except OSError:
            pass  # an unwritable .gptkata/ only means hashing again next time
        return
    raise CorpusError(
        f"{paths.shown(path)} has changed since it was installed ({identity['size']:,} bytes, "
        f"expected {LENGTH:,} with SHA-256 {SHA256[:12]}...): reinstall it with "
        "`make data` (or `make data SOURCE=path/to/input.txt`)"
    )


def _prepared(file: Path) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    return file


def read_corpus(folder: Path | None = None) -> str:
    """The corpus as one string; a CorpusError saying how to install it when missing.
    The installed corpus (no `folder`) is verified first; a corpus of your own in
    `folder` (the lab's --data-dir) is read as it is."""
    path = corpus_path(folder)
    if folder is None:
        verify(path)
    if not path.is_file():
        raise CorpusError(f"the tiny Shakespeare corpus is not installed at {path}: {INSTALL_HINT}")
    return path.read_text(encoding="utf-8")


def ensure(url: str = URL, folder: Path | None = None) -> Path | None:
    """Install the corpus if it is missing (what `make test` and `make check` run
    first). Returns the path of a fresh install, None when it was already there;
    a CorpusError (one line, with the `make data SOURCE=...` way out) when it cannot."""
    if corpus_path(folder).is_file():
        return None
    print("The tiny Shakespeare corpus is not installed yet: downloading it...", flush=True)
    return download(url, folder)


def _installed_intact() -> bool:
    """Whether the corpus is installed and unchanged (then `make data` has nothing to do)."""
    try:
        verify()
    except CorpusError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make data", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="install a local copy instead of downloading")
    parser.add_argument("--url", default=URL, help="download from this URL (default: the seed's)")
    parser.add_argument(
        "--ensure", action="store_true", help="only if it is missing (make test, make check)"
    )
    args = parser.parse_args(argv)
    try:
        if args.ensure and not args.source:
            target = ensure(args.url)
            if target is None:
                return 0
        elif args.source:
            target = install_from(args.source)
        elif _installed_intact():
            print(f"corpus already installed and verified at {corpus_path()}")
            return 0
        else:
            target = download(args.url)
    except CorpusError as error:
        if args.ensure:  # asked for by make test, check or watch: the learner ran that
            message = f"The corpus is needed first: {error}; then run this command again."
            print(message, file=sys.stderr, flush=True)
        else:
            print(f"make data: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"corpus verified (SHA-256 {SHA256[:12]}...) and installed at {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
