"""`make train PRESET=modern`: the modern kata's model in the trainer, its checkpoint
and its samples."""

from __future__ import annotations

import dataclasses

import torch

from benchmarks import versus
from gptkata.lab import checkpoint, models, presets, sample
from tests.lab.training_run import run_train, write_corpus


def test_the_modern_preset_is_the_cpu_preset_with_the_modern_model_its_sizes_and_85_s():
    modern, cpu = presets.get("modern"), presets.get("cpu")
    assert (modern.model, modern.window) == ("modern", cpu.block_size)
    sizes = dict(n_layer=cpu.n_layer, n_head=cpu.n_head)
    budget = dict(max_steps=cpu.max_steps, max_seconds=cpu.max_seconds)
    unused = dict(attention=cpu.attention)  # the modern model has one attention of its own
    as_cpu = dataclasses.replace(modern, model="gpt", window=0, **sizes, **budget, **unused)
    assert as_cpu == cpu  # the same recipe
    assert (modern.max_seconds, modern.max_steps) == tuple(map(float, versus.SAME_TIME[1::2]))


def test_a_modern_run_saves_a_checkpoint_that_samples(tmp_path, capsys):
    out = tmp_path / "run"
    flags = ("--max-steps", "3", "--window", "4")
    assert run_train(write_corpus(tmp_path / "data"), out, *flags, preset="modern") == 0
    saved = checkpoint.load(out / checkpoint.FILENAME)
    assert saved["spec"]["model"] == "modern" and saved["spec"]["window"] == 4
    assert any(".attn.c_attn." in name for name in saved["model"])
    assert not (out / "attention.png").exists()  # heatmaps need the teaching heads
    capsys.readouterr()
    ckpt = ["--checkpoint", str(out / checkpoint.FILENAME), "--device", "cpu"]
    assert sample.main([*ckpt, "--chars", "30", "--seed", "3"]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) == 1 + 30


def test_sampling_shows_the_modern_model_exactly_what_its_layers_can_see():
    spec = {"model": "modern", "vocab_size": 11, "n_layer": 3, "n_head": 2, "n_embd": 8}
    spec.update(block_size=8, window=3, dropout=0.0)
    torch.manual_seed(0)
    model = models.build_model(spec).eval()
    with torch.no_grad():
        for w in model.parameters():
            w.normal_(0.0, 0.5)
    assert models.context_length(spec) == 3 * (3 - 1) + 1
    prompt = torch.randint(11, (1, 12), generator=torch.Generator().manual_seed(0))
    cropped = sample.generate(
        model, prompt, 10, models.context_length(spec), generator=torch.Generator().manual_seed(1)
    )
    whole = model.generate(prompt, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(cropped, whole)  # three layers of window 3 reach 7 characters back


def test_an_odd_head_size_is_a_one_line_error_for_the_modern_model(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "data")
    flags = ("--n-embd", "12", "--n-head", "4", "--max-steps", "1")
    assert run_train(corpus, tmp_path / "run", *flags, preset="modern", tiny=False) == 1
    assert "must be even" in capsys.readouterr().err
