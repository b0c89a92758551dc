"""The speed report: ratios to `import torch`, verdicts and exit status, on made-up
timings (nothing is timed here; `make speed` does that)."""

import json
from pathlib import Path

from gptkata import paths
from gptkata.kata import manifest, speed


def fake_wall(kata_seconds: dict[str, float], suite_seconds: float):
    """A stand-in for speed.wall: `import torch` takes 1 s, each kata what is given
    (2 s if not), the whole suite `suite_seconds`."""

    def wall(command, repeats):
        target = command[-1]
        if target == "import torch":
            return 1.0
        if target == str(paths.KATA_TESTS):
            return suite_seconds
        return kata_seconds.get(Path(target).stem.removeprefix("test_"), 2.0)

    return wall


def fake_loop(watch_seconds: float = 0.6, unchanged: float = 0.5, saved: float = 2.0):
    """A stand-in for speed.learner_loop: every kata's save-to-verdict, progress."""
    return lambda repeats: ({k.name: watch_seconds for k in manifest.KATAS}, unchanged, saved)


def run(monkeypatch, tmp_path, capsys, kata_seconds, suite_seconds=6.0, loop=None):
    monkeypatch.setattr(speed, "wall", fake_wall(kata_seconds, suite_seconds))
    monkeypatch.setattr(speed, "learner_loop", loop or fake_loop())
    monkeypatch.setattr(paths, "RUNS", tmp_path)
    status = speed.main(repeats=1)
    return status, capsys.readouterr().out, json.loads((tmp_path / "speed.json").read_text())


def test_every_case_within_its_budget_passes(monkeypatch, tmp_path, capsys):
    status, out, report = run(monkeypatch, tmp_path, capsys, {"gpt": 2.9})
    assert status == 0
    assert "OVER" not in out
    assert "kata 9 gpt" in out and "2.9" in out
    assert report["import_torch_seconds"] == 1.0
    assert [r["what"] for r in report["runs"]][1:] == [
        *(f"kata {k.number} {k.name}" for k in manifest.KATAS),
        *(f"watch {k.number} {k.name}" for k in manifest.KATAS),
        "progress, nothing changed",
        "progress, one kata saved",
    ]


def test_one_kata_over_3x_fails_and_is_named(monkeypatch, tmp_path, capsys):
    status, out, report = run(monkeypatch, tmp_path, capsys, {"training": 3.2})
    assert status == 1
    over = [line for line in out.splitlines() if line.endswith("OVER")]
    assert len(over) == 1 and over[0].startswith("kata 4 training")
    assert {r["what"]: r["ratio"] for r in report["runs"]}["kata 4 training"] == 3.2


def test_the_whole_suite_over_10x_fails(monkeypatch, tmp_path, capsys):
    status, out, _ = run(monkeypatch, tmp_path, capsys, {}, suite_seconds=10.5)
    assert status == 1
    assert [line for line in out.splitlines() if line.endswith("OVER")][0].startswith(
        "whole kata suite"
    )


def test_watch_over_one_second_or_progress_over_its_budget_fails_and_is_named(
    monkeypatch, tmp_path, capsys
):
    status, out, _ = run(monkeypatch, tmp_path, capsys, {}, loop=fake_loop(watch_seconds=1.2))
    over = [line.split()[:3] for line in out.splitlines() if line.endswith("OVER")]
    assert (
        status == 1 and len(over) == len(manifest.KATAS) and over[0] == ["watch", "1", "tokenizer"]
    )

    status, out, _ = run(monkeypatch, tmp_path, capsys, {}, loop=fake_loop(unchanged=1.6))
    over = [line for line in out.splitlines() if line.endswith("OVER")]
    assert status == 1 and len(over) == 1 and over[0].startswith("progress, nothing changed")


def test_watch_is_judged_by_its_one_second_whatever_torch_takes(monkeypatch, tmp_path, capsys):
    status, out, report = run(monkeypatch, tmp_path, capsys, {}, loop=fake_loop(watch_seconds=0.9))
    assert status == 0  # 0.9x of a 1 s import of torch, and within 1.0 s
    watch = [r for r in report["runs"] if r["what"].startswith("watch")]
    assert all(r["budget_seconds"] == 1.0 and r["ratio"] == 0.9 for r in watch)
    assert "watch 1 tokenizer" in out and "1.00 s ok" in out
