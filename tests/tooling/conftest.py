"""Fixtures of the tooling tests."""

import pytest

from gptkata import paths
from tests.tooling.repo import scratch


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A scratch copy of the repository that this process's gptkata works in: every
    path in gptkata.paths points into it, so in-process commands never touch the real
    exercises/, backups/ or hint state."""
    root = scratch(tmp_path)
    for name, value in vars(paths).items():
        if name.isupper() and value != paths.ROOT and value.is_relative_to(paths.ROOT):
            monkeypatch.setattr(paths, name, root / value.relative_to(paths.ROOT))
    monkeypatch.setattr(paths, "ROOT", root)
    return root
