"""`--precision auto` on a CPU: fp32 or bf16 by timing the run's own model, never by
the CPU's flags alone. The decision runs on injected timings and a fake clock; no
timing of this machine is asserted."""

from __future__ import annotations

import pytest
import torch

from gptkata.lab import attention_paths, cpu, precision
from tests import expect
from tests.lab.test_cpu_and_attention_paths import AMX_MACHINE, AVX2_MACHINE, tiny_fused
from tests.lab.training_run import read_log, run_train, write_corpus

AVX512_BF16_MACHINE = (
    "model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 fma avx512f avx512_bf16\n"
)
CPU = torch.device("cpu")


def timer_of(fp32_ms: float, bf16_ms: float):
    return lambda: {"timings_ms": {"fp32": fp32_ms, "bf16": bf16_ms}, "paths": {}}


def never_timed():
    raise AssertionError("timed, although nothing was to be measured")


def test_a_cpu_that_claims_bf16_units_but_times_bf16_slower_trains_in_fp32():
    report = cpu.report(AVX512_BF16_MACHINE, capability="AVX512", environ={})
    assert report["bf16_units"], "the flags say bf16 units"
    chosen = precision.decide("auto", CPU, timer_of(17.0, 25.0), report)
    expect.equal("decide(auto, bf16 timed slower)['precision']", chosen["precision"], "fp32")
    expect.equal("decide(auto, bf16 timed slower)['bf16']", chosen["bf16"], False)
    for words in ("fp32 17.0 ms", "bf16 25.0 ms", "although the CPU has bf16 units (AVX-512 BF16)"):
        assert words in chosen["why"], f"the reason does not say {words!r}: {chosen['why']}"


@pytest.mark.parametrize(
    "machine_text, fp32_ms, bf16_ms, expected",
    [
        (AMX_MACHINE, 20.0, 8.0, "bf16"),
        (AMX_MACHINE, 20.0, 19.0, "fp32"),  # 5% is within the noise: fp32 is the more exact
        (AVX2_MACHINE, 20.0, 40.0, "fp32"),
        (AVX2_MACHINE, 20.0, 10.0, "bf16"),  # measured, not assumed from the flags
    ],
)
def test_auto_keeps_bf16_only_where_it_took_under_the_margin_of_fp32s_time(
    machine_text, fp32_ms, bf16_ms, expected
):
    report = cpu.report(machine_text, capability="AVX512", environ={})
    chosen = precision.decide("auto", CPU, timer_of(fp32_ms, bf16_ms), report)
    expect.equal(
        f"decide(auto, fp32 {fp32_ms} ms, bf16 {bf16_ms} ms)['precision']",
        chosen["precision"],
        expected,
        f"bf16 must take under {precision.MARGIN:.0%} of fp32's time",
    )
    expect.equal(
        "decide(...)['timings_ms']", chosen["timings_ms"], {"fp32": fp32_ms, "bf16": bf16_ms}
    )


def test_a_precision_asked_for_and_a_gpus_are_never_timed(monkeypatch):
    report = cpu.report(AMX_MACHINE, capability="AVX512", environ={})
    for wanted in ("fp32", "bf16"):
        chosen = precision.decide(wanted, CPU, never_timed, report)
        expect.equal(f"decide({wanted!r}, cpu)['precision']", chosen["precision"], wanted)
        assert chosen["timings_ms"] is None and "asks" in chosen["why"], chosen
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    gpu = precision.decide("auto", torch.device("cuda", 0), never_timed, report)
    expect.equal("decide('auto', cuda)['precision']", gpu["precision"], "bf16")


def test_a_bf16_that_cannot_run_here_is_fp32_with_the_reason():
    def broken():
        raise RuntimeError("no bf16 kernel")

    report = cpu.report(AVX2_MACHINE, capability="AVX2", environ={})
    chosen = precision.decide("auto", CPU, broken, report)
    expect.equal("decide(auto, bf16 raises)['precision']", chosen["precision"], "fp32")
    assert "no bf16 kernel" in chosen["why"], chosen["why"]


class FakeClock:
    """A clock that only moves when a step runs: each precision costs its seconds,
    and the first call of each costs 10 s more (a warm-up must not count)."""

    def __init__(self, costs: dict[str, float]):
        self.now, self.costs, self.calls = 0.0, costs, []

    def __call__(self) -> float:
        return self.now

    def step(self, name: str) -> None:
        self.now += self.costs[name] + (10.0 if name not in self.calls else 0.0)
        self.calls.append(name)


def test_the_precisions_take_turns_after_a_warm_up_and_a_clear_winner_ends_early():
    close = FakeClock({"fp32": 1.0, "bf16": 1.25})
    timings = precision.time_turns(close.step, repeats=3, clock=close)
    expect.equal("time_turns(fp32 1.0 s, bf16 1.25 s)", timings, {"fp32": 1.0, "bf16": 1.25})
    expect.equal("the calls", close.calls, ["fp32", "bf16"] * 4, "a warm-up, then 3 turns")
    clear = FakeClock({"fp32": 1.0, "bf16": 3.0})
    precision.time_turns(clear.step, repeats=3, clock=clear)
    expect.equal(
        "the calls, bf16 three times slower",
        clear.calls,
        ["fp32", "bf16"] * 2,
        "one turn is enough",
    )


def test_measuring_times_both_precisions_each_on_its_kernel_and_leaves_the_run_untouched():
    model = tiny_fused().train()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    measured = precision.measure(model, 2, 8, 11, CPU, attention_path="auto", repeats=1)
    assert set(measured["timings_ms"]) == set(precision.PRECISIONS), measured
    assert all(ms > 0 for ms in measured["timings_ms"].values()), measured
    assert set(measured["paths"]) == set(precision.PRECISIONS), measured
    assert set(measured["paths"].values()) <= set(attention_paths.PATHS), measured
    assert torch.equal(torch.get_rng_state(), rng), "the run's random numbers were drawn"
    assert all(p.grad is None for p in model.parameters()), "gradients were left behind"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())


def test_a_run_on_auto_trains_in_the_timed_precision_says_why_and_a_resume_keeps_it(
    tmp_path, monkeypatch, capsys
):
    corpus = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    timed = {"timings_ms": {"fp32": 30.0, "bf16": 10.0}, "paths": {"fp32": "sdpa"}}
    monkeypatch.setattr(precision, "measure", lambda *args, **kwargs: timed)
    assert run_train(corpus, out, "--precision", "auto", "--max-steps", "3") == 0
    log = read_log(out)
    expect.equal("log['precision']", log["precision"], "bf16")
    expect.equal(
        "log['history']['precision']['timings_ms']",
        log["history"]["precision"]["timings_ms"],
        timed["timings_ms"],
    )
    printed = capsys.readouterr().out
    assert "precision: bf16 (timed per forward and backward step: fp32 30.0 ms (sdpa)" in printed

    monkeypatch.setattr(precision, "measure", lambda *args, **kwargs: never_timed())
    flags = ("--precision", "auto", "--resume", "--max-steps", "4")
    assert run_train(corpus, out, *flags) == 0
    expect.equal("log['precision'] of the resumed run", read_log(out)["precision"], "bf16")
    assert "precision: bf16 (kept from the run it continues" in capsys.readouterr().out
