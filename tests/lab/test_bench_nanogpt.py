"""`make bench-nanogpt`: the comparison's figures, verdict and report on made-up logs,
and its one-line errors (no training runs here, no timing is asserted)."""

from __future__ import annotations

import subprocess

from benchmarks import bench_nanogpt
from tests import expect
from tests.lab.training_run import write_corpus


def made_up_log(val_loss: float, wall: float, estimate: float, kernel=None) -> dict:
    return {
        "val_loss": val_loss,
        "wall_seconds": wall,
        "final_eval_seconds": estimate,
        "steps": 600,
        "tokens_per_second": 20_000.0,
        "precision": "fp32",
        "attention_kernel": kernel,
        "final_eval_sequences": 2_560,
    }


def report(recipe: dict, default: dict) -> dict:
    settings = {
        "torch": "x", "threads": 2, "cpus": 2, "load_before": 0.3,
        "cpu": {"model": "AMD EPYC 7B12", "features": {"avx2": True, "avx512f": False,
                "avx512_bf16": False, "amx_bf16": False, "amx_tile": False},
                "torch_capability": "AVX2", "caps": {}, "bf16_units": False},
        "recipe_name": "nanogpt preset (fp32)", "default_name": "cpu preset (auto)",
    }  # fmt: skip
    return {
        "settings": settings,
        "runs": {"nanogpt preset (fp32)": recipe, "cpu preset (auto)": default},
    }


def test_the_total_wall_time_is_training_plus_the_final_estimate():
    run = bench_nanogpt.summarise_run(made_up_log(1.8, 85.0, 3.0), 95.0, 0.02)
    expect.equal("summarise_run(...)['total_seconds']", run["total_seconds"], 88.0)
    expect.equal("summarise_run(...)['others_cpu_percent']", run["others_cpu_percent"], 2.0)
    expect.equal("attention of a teaching run", run["attention_kernel"], "the katas' heads")


def test_the_goal_needs_a_lower_loss_by_the_margin_in_no_more_time():
    recipe = bench_nanogpt.summarise_run(made_up_log(1.88, 120.0, 5.0), 130.0, 0.0)
    better = bench_nanogpt.summarise_run(made_up_log(1.74, 85.0, 3.0), 95.0, 0.0)
    close = bench_nanogpt.summarise_run(made_up_log(1.85, 85.0, 3.0), 95.0, 0.0)
    slower = bench_nanogpt.summarise_run(made_up_log(1.70, 118.0, 3.0), 135.0, 0.0)
    assert (
        ": met - +0.140 nats lower, 88.0 s in all against the recipe's 120.0 s of training"
        in bench_nanogpt.verdict(recipe, better)
    )
    assert ": missed" in bench_nanogpt.verdict(recipe, close)
    assert ": missed" in bench_nanogpt.verdict(recipe, slower)


def test_the_report_describes_the_machine_and_prints_both_runs_and_the_published_figure():
    recipe = bench_nanogpt.summarise_run(made_up_log(1.88, 120.0, 5.0), 130.0, 0.3)
    default = bench_nanogpt.summarise_run(made_up_log(1.74, 85.0, 3.0, "SDPA flash"), 95.0, 0.0)
    text = "\n".join(bench_nanogpt.report_lines(report(recipe, default)))
    assert "CPU: AMD EPYC 7B12; AVX2 yes, AVX-512 no" in text
    assert "nanogpt preset (fp32)" in text and "cpu preset (auto)" in text
    assert "~1.88" in text and "cpu preset (auto): attention SDPA flash" in text
    assert "goal (val at least 0.05 lower, total time no longer): met" in text
    assert "run it again on a quiet machine" in text, "30% of the CPUs used by others"


def test_a_missing_corpus_is_a_one_line_error_before_anything_trains(tmp_path, monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("a training ran")

    monkeypatch.setattr(bench_nanogpt.subprocess, "run", no_run)
    code = bench_nanogpt.main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "b.json")])
    error = capsys.readouterr().err
    assert code == 1 and error.startswith("make bench-nanogpt: ") and error.count("\n") == 1


def test_a_failing_run_is_one_line_with_its_last_error(tmp_path, monkeypatch, capsys):
    corpus = write_corpus(tmp_path / "data")

    def crash(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="x\nmake train: no\n")

    monkeypatch.setattr(bench_nanogpt.subprocess, "run", crash)
    out = tmp_path / "b.json"
    assert bench_nanogpt.main(["--data-dir", str(corpus.parent), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error == "make bench-nanogpt: the nanogpt preset (fp32) run failed: make train: no\n"
    assert not out.exists()
