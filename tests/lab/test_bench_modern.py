"""The sliding cache's bench row: its ratios, its place in the report, on made-up
figures (no timing)."""

import json

from benchmarks import bench_cases, bench_report, sliding_cache, versus
from gptkata.lab import train
from tests.lab.test_bench import SETTINGS, fake_results


def fake_sliding(tokens_per_s: float, ms: tuple[float, float, float], ids=(1, 2, 3)) -> dict:
    return {
        "ids": list(ids),
        "parameters": 10_671_744,
        "tokens_per_s": tokens_per_s,
        "seconds": 500 / tokens_per_s,
        "ms_per_token": dict(zip(("64", "256", "512"), ms, strict=True)),
        "peak_rss_mib": 250.0,
        "run_added_mib": 10.0,
    }


def sliding_results(ids=(1, 2, 3)) -> dict:
    return {
        "generate:modern": fake_sliding(40.0, (10.0, 30.0, 60.0)),
        "generate:sliding_cache": fake_sliding(320.0, (3.0, 3.0, 3.0), ids),
    }


def test_the_report_has_the_sliding_caches_speedup():
    report = bench_report.combined_report(sliding_results(), SETTINGS)
    assert report["generate_speedup_sliding_cache"] == 8.0
    assert report["step_speedup_sliding_cache"]["512"] == 20.0
    assert report["generate_sliding_same_ids"] is True
    assert "train_speedup_fused" not in report  # bench.py's cases did not run
    assert "ids" not in report["cases"]["generate:sliding_cache"]


def test_different_ids_are_reported():
    report = bench_report.combined_report(sliding_results(ids=(1, 2, 4)), SETTINGS)
    assert report["generate_sliding_same_ids"] is False
    assert "same ids from both: NO" in "\n".join(sliding_cache.report_lines(report))


def test_make_bench_reports_both_tables_and_every_ratio():
    results = {**fake_results(), **sliding_results()}
    report = bench_report.combined_report(results, SETTINGS)
    assert report["train_speedup_fused"] == 2.5
    assert report["generate_speedup_sliding_cache"] == 8.0
    text = "\n".join(bench_report.combined_lines(report))
    assert "train_speedup_fused = 2.50x" in text
    assert "generate_speedup_sliding_cache = 8.00x   goal >= 5x: met" in text
    assert bench_cases.ALL_CASES == bench_cases.CASES + sliding_cache.CASES


def test_versus_reports_both_presets_and_which_is_lower():
    def log(val_loss):
        return dict(val_loss=val_loss, train_loss=1.5, steps=900, tokens_per_second=3e4)

    logs = {
        "cpu": {**log(1.70), "wall_seconds": 85.0},
        "modern": {**log(1.60), "wall_seconds": 85.1},
    }
    report = versus.summary(logs, 12.0, ["--seed", "7"])
    assert abs(report["val_loss_gain_modern"] - 0.10) < 1e-9
    text = "\n".join(versus.report_lines(report))
    assert "val loss is 0.100 lower than cpu's" in text
    assert "12% of the CPUs" in text
    logs["modern"]["val_loss"] = 1.75
    assert "NOT lower" in "\n".join(versus.report_lines(versus.summary(logs, 0.0, [])))


def test_make_bench_shows_the_last_versus_comparison_or_how_to_measure_it(tmp_path):
    logs = {
        name: dict(val_loss=v, train_loss=1.4, steps=3000, tokens_per_second=7e4, wall_seconds=85.0)
        for name, v in (("cpu", 1.61), ("modern", 1.59))
    }
    path = tmp_path / "versus.json"
    missing = "\n".join(versus.bench_lines(None, path))
    assert "not measured on this machine yet; make bench ARGS=--versus adds it" in missing

    report = {**versus.summary(logs, 0.0, []), "measured_at": "2026-12-01 02:30"}
    path.write_text(json.dumps(report))
    stored = "\n".join(versus.bench_lines(None, path))
    assert f"from {path} (2026-12-01 02:30; make bench ARGS=--versus measures" in stored
    assert "val loss is 0.020 lower than cpu's" in stored

    fresh = "\n".join(versus.bench_lines(report, path))
    assert "from " not in fresh and "0.020 lower" in fresh


def test_versus_trains_both_presets_for_the_same_85_seconds_and_lets_args_override(tmp_path):
    for preset in versus.PRESETS:
        command = versus.train_command(preset, tmp_path / preset, [])
        settings = train.parse(command[3:]).settings  # after python -m gptkata.lab.train
        assert (settings.max_seconds, settings.max_steps) == (85, 1_000_000), preset
    command = versus.train_command("cpu", tmp_path, ["--max-seconds", "30"])
    assert train.parse(command[3:]).settings.max_seconds == 30
