"""`make bench-nanogpt`: the comparison's figures, budget, verdict and report on made-up
logs and made-up processes, and its one-line errors (no training runs here, no timing
is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_nanogpt
from gptkata.lab import presets, train
from tests import expect
from tests.lab.training_run import write_corpus


def made_up_log(val_loss: float, wall: float, estimate: float, kernel=None) -> dict:
    return {
        "val_loss": val_loss,
        "wall_seconds": wall,
        "final_eval_seconds": estimate,
        "steps": 600,
        "tokens_per_second": 20_000.0,
        "settings": {"batch_size": 32, "block_size": 64},
        "precision": "fp32",
        "attention_kernel": kernel,
        "history": {
            "precision": {
                "why": "timed per forward and backward step: ...",
                "timings_ms": {"fp32": 9.0, "bf16": 12.0},
            }
        },
    }


def run_of(val_loss: float, wall: float, estimate: float, startup: float = 4.0, **kw) -> dict:
    marks = {"final": startup + wall + estimate, "process": startup + wall + estimate + 2.0}
    return bench_nanogpt.summarise_run(made_up_log(val_loss, wall, estimate, **kw), marks, 0.0)


def report(recipe: dict, default: dict) -> dict:
    settings = {
        "torch": "x", "threads": 2, "cpus": 2, "load_before": 0.3,
        "cpu": {"model": "AMD EPYC 7B12", "features": {"avx2": True, "avx512f": False,
                "avx512_bf16": False, "amx_bf16": False, "amx_tile": False},
                "torch_capability": "AVX2", "caps": {}, "bf16_units": False},
        "preset": "cpu", "budget": "95.0 s of training",
        "recipe_name": "nanogpt preset (fp32)", "default_name": "cpu preset (auto)",
    }  # fmt: skip
    return {
        "settings": settings,
        "runs": {"nanogpt preset (fp32)": recipe, "cpu preset (auto)": default},
    }


def test_a_runs_time_in_all_ends_with_its_final_estimate_and_starts_with_its_process():
    run = run_of(1.8, 85.0, 3.0, startup=4.0)
    expect.equal("summarise_run(...)['total_seconds']", run["total_seconds"], 92.0)
    expect.equal("summarise_run(...)['startup_seconds']", run["startup_seconds"], 4.0)
    expect.equal("attention of a teaching run", run["attention_kernel"], "the katas' heads")
    lines = [(0.5, "loading"), (4.0, "preset cpu: GPT ..."), (92.0, "step 600: ... (final)")]
    expect.equal(
        "timestamps(lines)",
        bench_nanogpt.timestamps([*lines, (93.0, "")]),
        {"announced": 4.0, "final": 92.0, "process": 93.0},
    )


def test_the_preset_gets_the_recipes_time_less_its_final_estimate_and_a_margin():
    recipe = run_of(1.79, 100.0, 5.0, startup=4.0)  # 104 s in all, as nanoGPT spends it
    expect.equal("recipe_seconds(recipe)", bench_nanogpt.recipe_seconds(recipe), 104.0)
    expected = 100.0 - 5.0 - bench_nanogpt.MARGIN_SHARE * 104.0
    assert bench_nanogpt.budget(recipe) == pytest.approx(expected), "start-ups cancel out"


def test_the_goal_needs_a_lower_loss_by_the_margin_in_no_more_time_in_all():
    recipe = run_of(1.88, 120.0, 5.0)  # 124 s in all
    better = run_of(1.74, 110.0, 3.0)  # 117 s
    close = run_of(1.85, 110.0, 3.0)
    slower = run_of(1.70, 118.0, 3.0)  # 125 s
    assert (
        ": met - +0.140 nats lower, 117.0 s in all against the recipe's 124.0 s"
        in bench_nanogpt.verdict(recipe, better)
    )
    assert ": missed" in bench_nanogpt.verdict(recipe, close)
    assert ": missed" in bench_nanogpt.verdict(recipe, slower)


def test_the_report_describes_the_machine_both_runs_and_make_trains_own_budget():
    recipe = run_of(1.88, 120.0, 5.0)
    default = run_of(1.74, 110.0, 3.0, kernel="SDPA flash")
    recipe["others_cpu_percent"] = 30.0
    text = "\n".join(bench_nanogpt.report_lines(report(recipe, default)))
    assert "CPU: AMD EPYC 7B12; AVX2 yes, AVX-512 no" in text
    assert "The cpu preset's budget: 95.0 s of training" in text
    assert "~1.88" in text and "cpu preset (auto): attention SDPA flash" in text
    assert "cpu preset (auto): precision fp32 (timed per forward and backward" in text
    assert "goal (val at least 0.05 lower, no more time in all): met" in text
    steps = presets.get("cpu").max_steps  # of 2,048 tokens at 20,000 tokens/s, with 4 + 3 s
    estimate = steps * 2_048 / 20_000 + 7
    assert f"{steps:,} steps at these tokens/s: about {estimate:.0f} s in all, NOT within" in text
    assert "run it again on a quiet machine" in text, "30% of the CPUs used by others"


def fake_launch(logs: dict, commands: list):
    """A `launch` that writes each preset's made-up log.json where --out says."""

    def launch(command):
        commands.append(command)
        preset = command[command.index("--preset") + 1]
        out = Path(command[command.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "log.json").write_text(json.dumps(logs[preset]))
        total = logs[preset]["wall_seconds"] + logs[preset]["final_eval_seconds"] + 4.0
        return 0, [(4.0, f"preset {preset}: ..."), (total, "step 9: ... (final)"), (total, "")], ""

    return launch


def test_the_preset_trains_for_the_recipes_measured_time_with_the_step_limit_lifted(
    tmp_path, monkeypatch
):
    corpus = write_corpus(tmp_path / "data")
    logs = {"nanogpt": made_up_log(1.79, 100.0, 5.0), "cpu": made_up_log(1.70, 93.0, 2.0)}
    commands = []
    monkeypatch.setattr(bench_nanogpt, "launch", fake_launch(logs, commands))
    out = tmp_path / "b.json"
    assert bench_nanogpt.main(["--data-dir", str(corpus.parent), "--out", str(out)]) == 0
    recipe, preset = (train.parse(command[3:]).settings for command in commands)
    expect.equal("the recipe's precision", recipe.precision, "fp32")
    expect.equal("the recipe's steps", recipe.max_steps, 2000)
    budget = bench_nanogpt.budget(run_of(1.79, 100.0, 5.0))
    assert preset.max_seconds == pytest.approx(budget, abs=0.06), "the recipe's time, less..."
    assert preset.max_steps >= 1_000_000, "the time, not the steps, ends the preset's run"
    written = json.loads(out.read_text())
    assert written["runs"]["cpu preset (auto)"]["total_seconds"] == 99.0


def test_a_missing_corpus_is_a_one_line_error_before_anything_trains(tmp_path, monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("a training ran")

    monkeypatch.setattr(bench_nanogpt, "launch", no_run)
    code = bench_nanogpt.main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "b.json")])
    error = capsys.readouterr().err
    assert code == 1 and error.startswith("make bench-nanogpt: ") and error.count("\n") == 1


def test_a_failing_run_is_one_line_with_its_last_error(tmp_path, monkeypatch, capsys):
    corpus = write_corpus(tmp_path / "data")
    monkeypatch.setattr(bench_nanogpt, "launch", lambda command: (1, [], "x\nmake train: no\n"))
    out = tmp_path / "b.json"
    assert bench_nanogpt.main(["--data-dir", str(corpus.parent), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error == "make bench-nanogpt: the nanogpt preset (fp32) run failed: make train: no\n"
    assert not out.exists()


def test_launch_times_each_line_a_process_prints(tmp_path):
    script = "import time; print('preset x'); time.sleep(0.2); print('step 1 (final)')"
    code, lines, errors = bench_nanogpt.launch([bench_nanogpt.sys.executable, "-c", script])
    assert code == 0 and errors == ""
    marks = bench_nanogpt.timestamps(lines)
    assert marks["final"] - marks["announced"] >= 0.2, marks
