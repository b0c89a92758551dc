"""The bench's report: ratios, verdicts and the table, on made-up figures (no timing)."""

import subprocess

import pytest
import torch

from benchmarks import bench, bench_cases, bench_mfu, bench_report, tables


def fake_results() -> dict:
    def train(tokens_per_s):
        return {
            "tokens_per_s": tokens_per_s,
            "ms_per_step": 768e3 / tokens_per_s,
            "parameters": 816_705,
            "peak_rss_mib": 300.0,
            "run_added_mib": 40.0,
        }

    def generate(tokens_per_s, inside, ms):
        return {
            "ids": [1, 2, 3],
            "parameters": 10_788_929,
            "tokens_per_s": tokens_per_s,
            "seconds": 500 / tokens_per_s,
            "inside_block_new_tokens": 255,
            "inside_block_tokens_per_s": inside,
            "ms_per_token": dict(zip(("64", "128", "256", "257"), ms, strict=True)),
            "peak_rss_mib": 250.0,
            "run_added_mib": 10.0,
        }

    return {
        "train:teaching": train(10_000.0),
        "train:fused": train(25_000.0),
        "generate:naive": generate(200.0, 400.0, (2.0, 3.0, 5.0, 5.0)),
        "generate:kv_cache": generate(300.0, 2000.0, (0.5, 0.5, 0.5, 5.0)),
    }


SETTINGS = {
    "preset": "cpu",
    "generate_preset": "lecture",
    "threads": 2,
    "cpus": 2,
    "torch": "x",
    "train_steps": 20,
    "new_tokens": 500,
    "block_size": 256,
    "repeats": 3,
    "load_before": 0.1,
    "others_cpu_percent": 2.0,
}


def test_ratio_and_verdict():
    assert tables.ratio(30.0, 10.0) == 3.0
    assert tables.verdict(2.5, 2.0) == "goal >= 2x: met"
    assert tables.verdict(4.0, 5.0) == "goal >= 5x: missed (4.00x is 20% short)"


def test_the_report_has_the_ratios_the_issue_asks_for():
    report = bench_report.summarise(fake_results(), SETTINGS)
    assert report["train_speedup_fused"] == 2.5
    assert report["generate_speedup_kv_cache"] == 1.5
    assert report["generate_speedup_kv_cache_inside_block"] == 5.0
    assert report["step_speedup_kv_cache"]["256"] == 10.0
    assert report["generate_same_ids"] is True
    assert "ids" not in report["cases"]["generate:naive"]


def test_the_table_lines_up_and_names_the_verdicts():
    lines = bench_report.report_lines(bench_report.summarise(fake_results(), SETTINGS))
    text = "\n".join(lines)
    assert "train_speedup_fused = 2.50x   goal >= 2x: met" in text
    assert "generate_speedup_kv_cache = 1.50x   goal >= 5x: missed (1.50x is 70% short)" in text
    rows = [line for line in lines if line.startswith("  teaching GPT") or "fused GPT" in line]
    assert len({len(r) for r in rows}) == 1, rows  # right-aligned columns of equal width
    assert "It times the reference code (solutions/), not your exercises" in text
    assert "ids/s, 500 new" in text and "ids/s, 255 new" in text
    assert "only the first 255 of the 500 new ids are cheap, which can keep the 5x goal" in text
    assert 'make bench ARGS="--block-size 512" times the same 500 ids' in text


def test_a_speed_up_goal_that_free_attention_could_not_reach_is_called_out_of_reach():
    results = fake_results()
    results["train:fused"]["tokens_per_s"] = 12_000.0  # 1.2x: missed
    results["train:teaching"]["attention_ms_per_step"] = 19.2  # a quarter of its 76.8 ms
    text = "\n".join(bench_report.report_lines(bench_report.summarise(results, SETTINGS)))
    assert "train_speedup_fused = 1.20x   goal >= 2x: missed" in text
    assert "at most 1.33x faster: the 2x goal is out of reach on this machine." in text
    results["train:teaching"]["attention_ms_per_step"] = 57.6  # three quarters: 4x possible
    text = "\n".join(bench_report.report_lines(bench_report.summarise(results, SETTINGS)))
    assert "at most 4.00x faster." in text and "out of reach on this machine" not in text


# The second hardening pass, finding 12: these flags were tracebacks from inside a case.
@pytest.mark.parametrize(
    "flags, mentions",
    [
        (["--repeats", "0"], "--repeats must be at least 1, got 0"),
        (["--threads", "-1"], "--threads must be at least 1, got -1"),
        (["--new-tokens", "-5"], "--new-tokens must be at least 1, got -5"),
        (["--train-steps", "0"], "--train-steps must be at least 1, got 0"),
        (["--block-size", "1"], "--block-size must be at least 2"),
        (["--block-size", str(10**12)], "the generation model at --block-size"),
    ],
)
def test_flags_that_make_no_sense_are_one_line_errors_before_any_case_runs(
    flags, mentions, tmp_path, monkeypatch, capsys
):
    def no_case(*args, **kwargs):
        raise AssertionError("a case ran")

    monkeypatch.setattr(bench.subprocess, "run", no_case)
    assert bench.main([*flags, "--out", str(tmp_path / "bench.json")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("make bench: ") and mentions in error
    assert error.count("\n") == 1
    assert not (tmp_path / "bench.json").exists()


def test_a_failing_case_is_one_line_with_its_last_error(tmp_path, monkeypatch, capsys):
    def crash(command, **kwargs):
        stderr = 'Traceback (most recent call last):\n  File "x.py"\nRuntimeError: out of memory\n'
        return subprocess.CompletedProcess(command, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(bench.subprocess, "run", crash)
    assert bench.main(["--out", str(tmp_path / "bench.json")]) == 1
    error = capsys.readouterr().err
    assert error == "make bench: the case train:teaching failed: RuntimeError: out of memory\n"


def lecture_results(teaching: float, fused: float, kernel: str) -> dict:
    results = fake_results()
    for name, rate in (("train-lecture:teaching", teaching), ("train-lecture:fused", fused)):
        results[name] = {
            **results["train:teaching"],
            "tokens_per_s": rate,
            "batch_size": 8,
            "precision": "fp32",
            "attention_kernel": kernel,
            "attention_timings_ms": {"sdpa": 30.0, "masked_softmax": 20.0},
        }
    return results


AVX2_CPU = {
    "model": "AMD EPYC 7B12",
    "features": {"avx2": True, "avx512f": False, "avx512_bf16": False, "amx_bf16": False,
                 "amx_tile": False},
    "torch_capability": "AVX2",
    "caps": {},
    "bf16_units": False,
}  # fmt: skip


def test_the_report_names_the_cpu_its_features_and_each_cases_precision_and_kernel():
    settings = {**SETTINGS, "cpu": AVX2_CPU, "precision": "auto", "lecture_steps": 2}
    kernel = "masked softmax (heads batched, the (T, T) weights stored)"
    report = bench_report.summarise(lecture_results(1_000.0, 2_500.0, kernel), settings)
    assert report["train_speedup_fused_lecture"] == 2.5
    assert report["train_speedup_fused"] == 2.5, "the cpu preset's key is kept beside it"
    text = "\n".join(bench_report.report_lines(report))
    assert "CPU: AMD EPYC 7B12; AVX2 yes, AVX-512 no, bf16 units no; PyTorch uses AVX2" in text
    assert "train_speedup_fused_lecture = 2.50x   (reported, no goal" in text
    assert f"fused attention: {kernel}" in text
    assert "sdpa 30.0 ms, masked_softmax 20.0 ms" in text
    assert "fp32" in text and "slower" not in text


def test_a_fused_model_slower_than_the_teaching_one_is_explained():
    settings = {**SETTINGS, "cpu": AVX2_CPU, "precision": "fp32", "lecture_steps": 2}
    kernel = "SDPA math (dropout 0.2 rules out the CPU's flash kernel)"
    report = bench_report.summarise(lecture_results(1_000.0, 900.0, kernel), settings)
    text = "\n".join(bench_report.report_lines(report))
    assert "train_speedup_fused_lecture = 0.90x   (reported, no goal" in text
    assert "with dropout on, a CPU has no flash kernel" in text


def test_the_lectures_speed_up_has_no_goal_and_says_how_much_of_the_step_attention_is():
    settings = {**SETTINGS, "cpu": AVX2_CPU, "precision": "fp32", "lecture_steps": 2}
    results = lecture_results(1_000.0, 1_300.0, "masked softmax (heads batched)")
    results["train-lecture:teaching"].update(ms_per_step=2_000.0, attention_ms_per_step=600.0)
    results["train-lecture:fused"].update(attention_ms_per_step=250.0)
    text = "\n".join(bench_report.report_lines(bench_report.summarise(results, settings)))
    assert "train_speedup_fused_lecture = 1.30x   (reported, no goal" in text
    assert "goal >= 2x" not in text.split("train_speedup_fused_lecture")[1].split("\n")[0]
    assert "Attention is 30% of the teaching model's step here (600 of 2000 ms" in text
    assert "at most 1.43x faster (the fused layers took 250 ms)" in text


def test_a_bench_without_the_lecture_cases_still_reports():
    report = bench_report.summarise(fake_results(), SETTINGS)
    assert "train_speedup_fused_lecture" not in report
    assert "lecture's sizes" not in "\n".join(bench_report.report_lines(report))


def mfu_results(lecture_fused_rate: float, cpu_fused_rate: float) -> dict:
    """Lecture and cpu-size cases with their FLOPs per token and measured peaks."""
    results = lecture_results(1_000.0, lecture_fused_rate, "masked softmax (heads batched)")
    top = [
        {"op": "aten::mm", "share": 0.41, "ms": 410.0},
        {"op": "aten::bernoulli_", "share": 0.2, "ms": 200.0},
    ]
    for name in results:
        if name.startswith("train"):
            results[name].update(
                flops_per_token=100_000_000,
                profile=top,
                matrix_share=0.5,
                peak_gflops={"fp32": 200.0, "bf16": 400.0},
            )
    results["train:fused"]["tokens_per_s"] = cpu_fused_rate
    return results


def test_mfu_is_model_flops_per_second_over_the_faster_peak_measured_beside_the_steps():
    settings = {**SETTINGS, "cpu": AVX2_CPU, "precision": "fp32", "lecture_steps": 2}
    results = mfu_results(2_600.0, 900.0)
    # the cpu-size case ran in a slower minute: its own peaks are lower, and they count
    results["train:fused"]["peak_gflops"] = {"fp32": 150.0, "bf16": 300.0}
    report = bench_report.summarise(results, settings)
    # 100 MFLOP per token: 2,600 tokens/s are 260 GFLOPS, 65% of the faster peak (bf16's 400)
    assert report["mfu_fused_lecture"] == pytest.approx(0.65)
    assert report["mfu_fused_cpu"] == pytest.approx(0.30), "90 GFLOPS of its own 300"
    assert report["mfu"]["train:fused"]["of_own_peak"] == pytest.approx(0.60), "fp32's 150"
    text = "\n".join(bench_report.report_lines(report))
    assert "each training case timed a 2048 x 2048 matrix product on" in text
    assert "150 / 300" in text and "200 / 400" in text, "each row names its peaks"
    assert "'of its peak': of the peak of the precision the case ran in" in text
    assert "mfu_fused_lecture = 65%   goal >= 60%: met" in text
    assert "mfu_fused_cpu = 30%   goal >= 40%: missed; largest cost (per-op profile" in text
    assert "aten::mm, 41% (410 ms); then aten::bernoulli_ 20%" in text
    # 30% with the matrix products half of the step: 60% if nothing else cost anything
    assert "took 50% of the step: with all else free it would reach 60%" in text
    assert text.count("with all else free") == 1, "a goal met needs no bound"


def test_cases_without_a_measured_peak_have_no_mfu_rows():
    report = bench_report.summarise(fake_results(), SETTINGS)
    assert "mfu_fused_cpu" not in report and "mfu" not in report
    assert "MFU" not in "\n".join(bench_report.report_lines(report))


def test_the_peak_meter_keeps_the_fastest_product_of_each_precision_over_its_turns():
    meter = bench_mfu.PeakMeter(turns=3, size=64)
    assert meter.per_turn == 4, "12 products of each precision over 3 turns"
    meter.turn()
    first = meter.gflops()
    meter.turn()
    second = meter.gflops()
    assert set(second) == {"fp32", "bf16"}
    assert all(0 < first[k] <= second[k] < float("inf") for k in second), (first, second)


def test_a_timed_precision_is_printed_with_its_reason():
    settings = {**SETTINGS, "cpu": AVX2_CPU, "precision": "auto", "lecture_steps": 2}
    results = lecture_results(1_000.0, 2_000.0, "SDPA flash")
    results["train:fused"].update(
        precision="fp32",
        precision_timings_ms={"fp32": 10.0, "bf16": 30.0},
        precision_why="timed per forward and backward step: fp32 10.0 ms, bf16 30.0 ms: ...",
    )
    text = "\n".join(bench_report.report_lines(bench_report.summarise(results, settings)))
    assert "fused GPT: precision fp32 (timed per forward and backward step: fp32 10.0 ms" in text
    assert "teaching GPT: precision" not in text, "a precision that was not timed has no line"


def test_the_profile_names_the_costliest_operations_and_the_matrix_products_share():
    a = torch.randn(256, 256)
    small = torch.randn(16)

    def step() -> None:
        torch.mm(a, a)
        small.add(1.0)

    profiled = bench_mfu.profile_step(step, top=2)
    assert profiled["profile"][0]["op"] == "aten::mm"
    assert [p["op"] for p in profiled["profile"]] == ["aten::mm", "aten::add"]
    assert 0.5 < profiled["matrix_share"] < 1.0, "one product and one tiny addition"


def test_a_training_case_reports_its_speed_memory_peak_and_profile():
    args = bench.build_parser().parse_args(
        ["--preset", "bigram", "--train-steps", "2", "--repeats", "2", "--precision", "fp32"]
    )
    case = bench_cases.run_case("train:fused", args)
    assert case["tokens_per_s"] > 0 and case["ms_per_step"] > 0
    assert case["run_added_mib"] >= 0 and case["peak_rss_mib"] > case["run_added_mib"]
    assert set(case["peak_gflops"]) == {"fp32", "bf16"} and min(case["peak_gflops"].values()) > 0
    assert case["profile"] and 0 < case["matrix_share"] < 1
    assert case["precision"] == "fp32"
