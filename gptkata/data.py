"""The tiny Shakespeare corpus: install it (download or local copy), verify it, read it.

The corpus is never committed. `make data` downloads it from the URL the seed
notebook uses; `make data SOURCE=path/to/input.txt` copies a file you already have.
Either way the SHA-256 is checked *before* the file is moved into place, through a
temporary file in the same folder and an atomic rename: a partial, interrupted or
wrong download never sits at data/tinyshakespeare.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.request
from pathlib import Path

from gptkata import outputs, paths

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
LENGTH = 1_115_394  # characters (all ASCII, so also bytes)
FILENAME = "tinyshakespeare.txt"
INSTALL_HINT = "run `make data` (or `make data SOURCE=path/to/input.txt` for a local copy)"


class CorpusError(Exception):
    """The corpus is missing, or a candidate file is not the corpus. One line, with the fix."""


def corpus_path(folder: Path | None = None) -> Path:
    return (folder or paths.DATA) / FILENAME


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def install_bytes(blob: bytes, origin: str, folder: Path | None = None) -> Path:
    """Verify `blob` and write it atomically as the corpus. Nothing is written if it is wrong."""
    digest = sha256(blob)
    if digest != SHA256:
        raise CorpusError(
            f"{origin} is not the tiny Shakespeare corpus (SHA-256 {digest[:12]}..., "
            f"expected {SHA256[:12]}..., {len(blob):,} bytes, expected {LENGTH:,}); "
            f"point SOURCE= at an unmodified copy of input.txt"
        )
    target = corpus_path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    return outputs.write_atomically(target, lambda f: f.write(blob))


def install_from(source: Path, folder: Path | None = None) -> Path:
    """Install a local copy of the corpus (make data SOURCE=...)."""
    source = Path(source)
    if not source.is_file():
        raise CorpusError(
            f"SOURCE={source} does not exist or is not a file; give the path of input.txt"
        )
    return install_bytes(source.read_bytes(), str(source), folder)


def download(url: str = URL, folder: Path | None = None, timeout: float = 30.0) -> Path:
    """Download the corpus from `url` and install it (make data)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            blob = response.read()
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise CorpusError(
            f"could not download the corpus ({reason}); without internet, install a copy of "
            f"tiny Shakespeare's input.txt with: make data SOURCE=path/to/input.txt"
        ) from error
    return install_bytes(blob, url, folder)


def read_corpus(folder: Path | None = None) -> str:
    """The corpus as one string; a CorpusError saying how to install it when missing."""
    path = corpus_path(folder)
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
        else:
            target = install_from(args.source) if args.source else download(args.url)
    except CorpusError as error:
        print(f"make data: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"corpus verified (SHA-256 {SHA256[:12]}...) and installed at {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
