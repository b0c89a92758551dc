"""The CPU report and the fused attention's choice of kernel: parsing, the rules that
decide, and that every path computes the same function (no timing is asserted)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import tables
from gptkata.lab import attention_paths, cpu, machine
from solutions.fast_attention import FusedGPT
from solutions.gpt import GPTConfig
from solutions.modern import ModernConfig, ModernGPT
from tests import expect
from tests.lab.training_run import read_log, run_train, write_corpus

AMX_MACHINE = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n"
    "flags\t\t: fpu sse avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile\n"
    "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu\n"
)
AVX2_MACHINE = "model name\t: AMD EPYC 7B12\nflags\t\t: fpu sse avx2 fma\n"


def test_the_cpu_report_reads_the_model_and_the_features_of_the_first_processor():
    got = cpu.report(AMX_MACHINE, capability="AVX512", environ={})
    expect.equal("report(...)['model']", got["model"], "Intel(R) Xeon(R) Processor")
    expect.equal(
        "report(...)['features']",
        got["features"],
        dict.fromkeys(cpu.FEATURES, True),
        "every feature is in the first processor's flags",
    )
    expect.equal("report(...)['bf16_units']", got["bf16_units"], True)
    amd = cpu.report(AVX2_MACHINE, capability="AVX2", environ={})
    expect.equal("report(AVX2 only)['features']['avx512f']", amd["features"]["avx512f"], False)
    expect.equal("report(AVX2 only)['bf16_units']", amd["bf16_units"], False)
    expect.equal("report('')['model']", cpu.report("", "AVX2", {})["model"], "unknown")


@pytest.mark.parametrize(
    "capability, environ, usable",
    [
        ("AVX512", {}, True),
        ("AVX2", {"ATEN_CPU_CAPABILITY": "avx2"}, False),
        ("AVX512", {"ONEDNN_MAX_CPU_ISA": "AVX2"}, False),
        ("AVX512", {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, True),
    ],
)
def test_bf16_units_count_only_where_pytorch_is_not_capped_below_them(capability, environ, usable):
    got = cpu.report(AMX_MACHINE, capability, environ)
    expect.equal(
        f"report(AMX machine, {capability}, {environ})['bf16_units']", got["bf16_units"], usable
    )
    line = tables.describe_cpu(got)
    assert ("CAPPED" in line) == bool(environ), line
    assert "AMX" in line and capability in line, line


def test_machine_uses_bf16_units_only_where_the_report_finds_them(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(AMX_MACHINE)
    assert machine.cpu_has_bf16_units(cpuinfo, "AVX512", {})
    assert not machine.cpu_has_bf16_units(cpuinfo, "AVX2", {"ATEN_CPU_CAPABILITY": "avx2"})


def test_the_sdpa_kernel_is_named_and_dropout_is_said_to_rule_out_flash():
    q = torch.zeros(2, 2, 8, 4)
    assert attention_paths.sdpa_kernel(q, 0.0) in ("flash", "math", "efficient", "unknown")
    words = attention_paths.kernel_description("sdpa", "math", 0.2)
    assert "dropout 0.2" in words and "flash" in words, words
    assert "masked softmax" in attention_paths.kernel_description("masked_softmax", "math", 0.2)


def test_the_masked_softmax_is_chosen_only_when_clearly_faster():
    def choose(sdpa, masked):
        return attention_paths.choose({"sdpa": sdpa, "masked_softmax": masked})

    expect.equal("choose(sdpa 2.0, masked 1.0)", choose(2.0, 1.0), "masked_softmax")
    expect.equal(
        "choose(sdpa 1.0, masked 0.95)",
        choose(1.0, 0.95),
        "sdpa",
        "a 5% difference is within the noise of a busy machine",
    )
    expect.equal("choose(sdpa 1.0, masked 2.0)", choose(1.0, 2.0), "sdpa")


def tiny_fused(dropout: float = 0.0) -> FusedGPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=8, n_embd=16, n_head=2, n_layer=2, dropout=dropout)
    return FusedGPT(config)


def test_masked_softmax_computes_what_sdpa_computes_with_the_same_weights():
    model = tiny_fused().eval()
    idx = torch.randint(11, (3, 8), generator=torch.Generator().manual_seed(1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    parameters = list(model.parameters())
    expected, _ = model(idx)
    expect.equal(
        "use_path(model, 'masked_softmax')", attention_paths.use_path(model, "masked_softmax"), 2
    )
    assert model.state_dict().keys() == before.keys(), "the weights keep their names"
    assert all(a is b for a, b in zip(model.parameters(), parameters, strict=True)), (
        "the same parameter tensors, or an optimiser made before would train stale copies"
    )
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    got, _ = model(idx)
    expect.close(
        "model(idx) on the masked_softmax path",
        got,
        expected,
        atol=1e-5,
        why="the same function; float32 rounding differs in the order of additions",
    )
    attention_paths.use_path(model, "sdpa")
    expect.close("model(idx) back on sdpa", model(idx)[0], expected, atol=1e-6)


def test_a_modern_gpt_computes_the_same_on_the_masked_softmax_path_within_its_window():
    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(vocab_size=11, window=8, n_embd=16, n_head=2, n_layer=2)).eval()
    idx = torch.randint(11, (3, 8), generator=torch.Generator().manual_seed(1))
    longer = torch.randint(11, (2, 13), generator=torch.Generator().manual_seed(2))
    expected, expected_longer = model(idx)[0], model(longer)[0]
    parameters = list(model.parameters())
    expect.equal(
        "use_path(modern, 'masked_softmax')", attention_paths.use_path(model, "masked_softmax"), 2
    )
    assert all(a is b for a, b in zip(model.parameters(), parameters, strict=True))
    with torch.inference_mode():  # the first call in an estimate: training must follow
        model(idx)
    model.train()
    model(idx, idx)[1].backward()
    model.eval()
    expect.close(
        "modern(idx) on the masked_softmax path",
        model(idx)[0],
        expected,
        atol=1e-5,
        why="within the window the band is the causal triangle: the same function",
    )
    expect.close(
        "modern(13 ids, window 8) on the masked_softmax path",
        model(longer)[0],
        expected_longer,
        atol=1e-6,
        why="past the window the kata's own banded forward runs",
    )


def test_masked_softmax_never_looks_into_the_future_and_drops_weights_while_training():
    q, k, v = (torch.randn(1, 2, 6, 4) for _ in range(3))
    mask = torch.ones(6, 6, dtype=torch.bool).triu(1)
    out = attention_paths.masked_softmax(q, k, v, mask, 0.0)
    k2, v2 = k.clone(), v.clone()
    k2[..., 4:, :], v2[..., 4:, :] = 100.0, -100.0  # change the future of positions 0..3
    changed = attention_paths.masked_softmax(q, k2, v2, mask, 0.0)
    expect.close(
        "masked_softmax(...)[:4]",
        changed[..., :4, :],
        out[..., :4, :],
        atol=1e-6,
        why="positions 0..3 may not see positions 4 and 5",
    )
    torch.manual_seed(0)
    dropped = attention_paths.masked_softmax(q, k, v, mask, 0.5)
    assert not torch.allclose(dropped, out), "dropout 0.5 changed nothing"


def test_dropout_from_8_bits_drops_p_of_the_numbers_and_keeps_the_expectation():
    x = torch.ones(1000, 1000)
    torch.manual_seed(0)
    out = attention_paths.dropout_few_bits(x, 0.2)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.2) < 0.002, f"dropped {dropped:.4f} of the numbers, not about 0.2"
    kept = 256 / (256 - 51)  # 1 / (1 - p as 8 bits hold it: 51/256)
    assert out.unique().tolist() == [0.0, pytest.approx(kept)]
    assert abs(out.mean().item() - 1.0) < 0.003, "the expectation of each number is kept"
    torch.manual_seed(0)
    assert torch.equal(attention_paths.dropout_few_bits(x, 0.2), out), "a seed repeats it"
    assert attention_paths.dropout_few_bits(x, 0.0) is x
    assert not attention_paths.dropout_few_bits(x, 1.0).any()


@pytest.mark.parametrize(
    ("p", "bits"), [(0.2, 8), (0.5, 8), (0.25, 8), (0.1, 16), (0.999, 16), (0.001, 16)]
)
def test_8_bits_serve_a_p_they_hold_within_1_percent_and_16_bits_the_others(p, bits):
    assert attention_paths.random_bits(p) == bits


@pytest.mark.parametrize("p", [0.1, 0.999])
def test_dropout_from_16_bits_keeps_p_and_the_expectation_where_8_bits_would_not(p):
    x = torch.ones(1000, 1000)
    torch.manual_seed(0)
    out = attention_paths.dropout_few_bits(x, p)
    kept = 65536 / (65536 - round(p * 65536))  # 1 / (1 - p as 16 bits hold it)
    assert out.unique().tolist() == [0.0, pytest.approx(kept)]
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - p) < 0.002, f"dropped {dropped:.4f} of the numbers, not about {p}"


@pytest.mark.parametrize(("p", "per_draw"), [(0.5, 8), (0.1, 4)])
def test_every_number_is_dropped_independently_of_its_neighbours(p, per_draw):
    torch.manual_seed(1)
    kept = attention_paths.dropout_few_bits(torch.ones(800_000), p) > 0
    numbers = kept.view(-1, per_draw).float()  # the numbers that share one 64-bit draw
    both = (numbers[:, :-1] * numbers[:, 1:]).mean().item()
    expected = (1 - p) ** 2
    assert abs(both - expected) < 0.005, f"neighbours both kept {both:.4f}, not {expected}"


def test_an_unknown_path_or_a_model_without_fused_attention_is_a_value_error():
    expect.value_error(
        "use_path(model, 'fast')",
        attention_paths.use_path,
        tiny_fused(),
        "fast",
        mentions=("sdpa", "masked_softmax"),
    )
    expect.value_error(
        "use_path(Linear, 'sdpa')",
        attention_paths.use_path,
        torch.nn.Linear(2, 2),
        "sdpa",
        mentions=("FusedGPT", "ModernGPT"),
    )


def test_configure_times_both_paths_on_auto_and_keeps_the_one_it_names():
    model = tiny_fused(dropout=0.1)
    chosen = attention_paths.configure(model, "auto", 2, torch.device("cpu"), bf16=False)
    assert set(chosen["timings_ms"]) == set(attention_paths.PATHS)
    assert chosen["path"] == attention_paths.choose(chosen["timings_ms"])
    assert all(block.sa.path == chosen["path"] for block in model.blocks)
    fixed = attention_paths.configure(tiny_fused(), "masked_softmax", 2, torch.device("cpu"), False)
    assert fixed["timings_ms"] is None and fixed["path"] == "masked_softmax"


def test_a_fused_run_logs_its_attention_kernel_and_draws_its_heatmap(tmp_path):
    corpus = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    assert (
        run_train(
            corpus,
            out,
            "--attention",
            "fused",
            "--attention-path",
            "masked_softmax",
            "--max-steps",
            "4",
            "--eval-batch-size",
            "16",
        )
        == 0
    )
    log = read_log(out)
    assert log["attention_kernel"].startswith("masked softmax"), log["attention_kernel"]
    assert log["final_eval_sequences"] == 3 * 16
    assert (out / "attention.png").is_file()


def test_an_optimiser_made_before_the_path_is_set_still_trains_the_attention():
    model = tiny_fused().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    attention_paths.use_path(model, "masked_softmax")
    before = model.blocks[0].sa.c_attn.weight.detach().clone()
    idx = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(2))
    _, loss = model(idx, idx)
    loss.backward()
    optimizer.step()
    assert not torch.equal(model.blocks[0].sa.c_attn.weight, before), "c_attn did not train"


def test_the_masked_softmax_scales_after_the_product_and_drops_what_its_few_bit_dropout_drops():
    q, k, v = (
        torch.randn(2, 2, 6, 4, generator=torch.Generator().manual_seed(i)) for i in range(3)
    )
    mask = torch.ones(6, 6, dtype=torch.bool).triu(1)
    torch.manual_seed(3)
    got = attention_paths.masked_softmax(q, k, v, mask, 0.3)
    weights = torch.softmax((q @ k.transpose(-2, -1) / 2).masked_fill(mask, float("-inf")), -1)
    torch.manual_seed(3)
    expected = attention_paths.dropout_few_bits(weights, 0.3) @ v
    expect.close(
        "masked_softmax(q, k, v, mask, 0.3)",
        got,
        expected,
        atol=1e-5,
        why="the same draws; only where 1 / (1 - p) is multiplied in differs",
    )


def test_the_masked_softmax_path_gives_the_feed_forward_few_bit_dropout_and_sdpa_takes_it_back():
    model = tiny_fused(dropout=0.2)
    attention_paths.use_path(model, "masked_softmax")
    dropouts = [m for m in model.blocks.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and all(type(m) is attention_paths.DropoutFewBits for m in dropouts), dropouts
    assert all(m.p == 0.2 for m in dropouts), "the probability is kept"
    attention_paths.use_path(model, "sdpa")
    assert all(type(m) is torch.nn.Dropout for m in dropouts), "PyTorch's own on sdpa"


def test_under_bf16_autocast_the_masked_softmax_gives_bf16_close_to_float32():
    q, k, v = (
        torch.randn(2, 3, 16, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)
    )
    mask = torch.ones(16, 16, dtype=torch.bool).triu(1)
    exact = attention_paths.masked_softmax(q, k, v, mask, 0.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = [t.to(torch.bfloat16) for t in (q, k, v)]  # as a bf16 linear layer gives them
        got = attention_paths.masked_softmax(*half, mask, 0.0)
        torch.manual_seed(0)
        dropped = attention_paths.masked_softmax(*half, mask, 0.2)
    assert got.dtype == dropped.dtype == torch.bfloat16
    expect.close("masked_softmax under bf16 autocast", got.float(), exact, atol=0.05)
    keep, scale = attention_paths.keep_few_bits(torch.ones(1000, dtype=torch.bfloat16), 0.2)
    assert keep.dtype == torch.bfloat16 and set(keep.unique().tolist()) == {0.0, 1.0}
    assert scale == 256 / 205
