"""`make sample`: reproducible text from a checkpoint, temperature, top-k, top-p, and bad input."""

from __future__ import annotations

import pytest
import torch

from gptkata.lab import checkpoint, presets, sample
from solutions.bigram import BigramLanguageModel
from tests.lab.training_run import error_lines, is_png, run_bounded, run_train, write_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The checkpoint of a tiny GPT trained for a few steps."""
    root = tmp_path_factory.mktemp("sample")
    out = root / "run"
    assert run_train(write_corpus(root / "data"), out, "--max-steps", "6") == 0
    return out / checkpoint.FILENAME


def sample_cli(ckpt, *flags) -> list[str]:
    return ["--checkpoint", str(ckpt), "--device", "cpu", *flags]


def test_the_same_seed_gives_the_same_text(trained, capsys):
    texts = []
    for seed in ("1", "1", "2"):
        assert sample.main(sample_cli(trained, "--chars", "40", "--seed", seed)) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_the_text_continues_the_prompt(trained, capsys):
    prompt = "the kata"
    assert sample.main(sample_cli(trained, "--prompt", prompt, "--chars", "30")) == 0
    text = capsys.readouterr().out
    assert text.startswith(prompt) and len(text) == len(prompt) + 30 + 1  # print's newline


def test_top_k_of_one_always_takes_the_likeliest_character(trained):
    saved = checkpoint.load(trained)
    model = sample.load_model(saved, torch.device("cpu"))
    texts = {
        sample.sample_text(model, saved["spec"], saved["vocab"], "a", 20, top_k=1, seed=seed)
        for seed in range(3)
    }
    assert len(texts) == 1
    greedy = torch.tensor([[saved["vocab"].index("a")]])
    for _ in range(20):
        logits, _ = model(greedy[:, -saved["spec"]["block_size"] :])
        greedy = torch.cat([greedy, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert texts.pop() == "".join(saved["vocab"][i] for i in greedy[0].tolist())


def test_a_tiny_temperature_is_greedy_decoding_not_a_nan(trained, capsys):
    # finding 12: --temperature 1e-40 divided the logits into inf, and the softmax gave nan
    greedy = sample_cli(trained, "--chars", "30", "--top-k", "1")
    assert sample.main(greedy) == 0
    expected = capsys.readouterr().out
    for seed in ("1", "2"):
        flags = sample_cli(trained, "--chars", "30", "--temperature", "1e-40", "--seed", seed)
        assert sample.main(flags) == 0
        assert capsys.readouterr().out == expected


def test_a_low_temperature_sharpens_and_a_high_one_flattens():
    model = BigramLanguageModel(10)
    with torch.no_grad():  # after any character: logits 0, 0.5, 1, ... 4.5
        model.token_embedding_table.weight.copy_(torch.arange(10.0).repeat(10, 1) / 2)
    idx = torch.zeros(400, 1, dtype=torch.long)  # 400 draws at once

    def share_of_the_likeliest(temperature):
        generator = torch.Generator().manual_seed(0)
        drawn = sample.generate(model, idx, 1, 1, temperature, 0, generator)[:, -1]
        return (drawn == 9).float().mean().item()

    assert share_of_the_likeliest(0.05) == 1.0
    assert 0.3 < share_of_the_likeliest(1.0) < 0.5  # softmax gives 9 about 0.39
    assert share_of_the_likeliest(100.0) < 0.2  # nearly uniform: 0.1 each


def test_top_k_keeps_only_the_k_likeliest():
    model = BigramLanguageModel(10)
    with torch.no_grad():
        model.token_embedding_table.weight.copy_(torch.arange(10.0).repeat(10, 1) / 2)
    idx = torch.zeros(400, 1, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    drawn = sample.generate(model, idx, 1, 1, 100.0, 3, generator)[:, -1]
    assert set(drawn.tolist()) == {7, 8, 9}


def test_top_p_keeps_only_the_nucleus_and_temperature_zero_is_greedy():
    model = BigramLanguageModel(10)
    with torch.no_grad():  # probabilities of 9, 8, 7, ...: 0.39, 0.24, 0.14, 0.09, ...
        model.token_embedding_table.weight.copy_(torch.arange(10.0).repeat(10, 1) / 2)
    idx = torch.zeros(400, 1, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    drawn = sample.generate(model, idx, 1, 1, 1.0, 0, generator, top_p=0.7)[:, -1]
    assert set(drawn.tolist()) == {7, 8, 9}  # 0.39 + 0.24 < 0.7 <= 0.39 + 0.24 + 0.14
    greedy = sample.generate(model, idx[:3], 5, 1, 0.0, 0, generator)[:, 1:]
    assert (greedy == 9).all()


@pytest.mark.parametrize(
    "flags, mentions",
    [
        (["--prompt", "the é"], "character 'é' at position 4 is not in the vocabulary"),
        (["--prompt", ""], "the prompt is empty"),
        (
            ["--temperature", "-1"],
            "--temperature must be a finite number, 0 (greedy) or above, got -1.0",
        ),
        (["--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
        (["--top-p", "nan"], "--top-p must be in (0, 1], got nan"),
        (["--top-k", "-1"], "--top-k must be 0 (off) or more"),
        # the second hardening pass, finding 12: these were tracebacks or the wrong message
        (
            ["--temperature", "nan"],
            "--temperature must be a finite number, 0 (greedy) or above, got nan",
        ),
        (
            ["--temperature", "inf"],
            "--temperature must be a finite number, 0 (greedy) or above, got inf",
        ),
        (["--heatmap", "--heatmap-chars", "0"], "--heatmap-chars must be at least 1, got 0"),
        (["--chars", "-5"], "--chars must be 0 or more, got -5"),
        (["--seed", "-1"], "--seed must be in 0 .. 2**63 - 1, got -1"),
    ],
)
def test_bad_settings_are_one_line_errors(trained, flags, mentions, capsys):
    assert sample.main(sample_cli(trained, *flags)) == 1
    error = capsys.readouterr().err
    assert error.startswith("make sample: ") and mentions in error
    assert error.count("\n") == 1


def test_more_characters_than_the_limit_is_a_one_line_error_not_an_endless_run(trained):
    # probe: --chars 1000000000000 sampled until it was stopped by hand. In a child
    # process with a time and memory limit: a broken cap fails this test, never hangs it.
    flags = sample_cli(trained, "--chars", "1000000000000")
    run = run_bounded("gptkata.lab.sample", *flags, memory_gb=8, timeout=60)
    errors = error_lines(run.stderr, "make sample: ")
    assert run.returncode == 1 and len(errors) == 1, run.stderr[-3000:]
    limit = f"{presets.MAX_SAMPLE_CHARS:,}"
    assert errors[0] == f"make sample: --chars must be at most {limit}, got 1000000000000"
    assert run.stdout == ""


def test_without_a_checkpoint_it_says_which_command_makes_one(tmp_path, capsys):
    assert sample.main(sample_cli(tmp_path / "ckpt.pt")) == 1
    error = capsys.readouterr().err
    assert "there is no checkpoint at" in error and "`make train PRESET=cpu`" in error


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path, trained, capsys):
    broken = tmp_path / "ckpt.pt"
    broken.write_bytes(trained.read_bytes()[:100])
    assert sample.main(sample_cli(broken)) == 1
    error = capsys.readouterr().err
    assert "truncated or corrupted" in error and "make train" not in error


def test_the_heatmap_is_written_beside_the_checkpoint_or_where_asked(trained, tmp_path, capsys):
    assert (
        sample.main(sample_cli(trained, "--prompt", "the kata", "--chars", "4", "--heatmap")) == 0
    )
    assert is_png(trained.parent / "attention.png")
    there = tmp_path / "map.png"
    assert sample.main(sample_cli(trained, "--chars", "4", "--heatmap", str(there))) == 0
    assert is_png(there)
