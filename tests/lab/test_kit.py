"""Whose code each part of a run is (gptkata.lab.kit): the reference's kit, kata 14's
schedule in the trainer's form, torch's sampling, and the rows of MINE=1's table."""

from __future__ import annotations

import math

import pytest
import torch

from gptkata.lab import kit, mine, presets, train
from solutions.optim import cosine_lr


def test_the_reference_kit_is_the_solutions_and_torch():
    parts = {part.name: part.implementation for part in kit.reference().parts}

    assert parts == {
        "tokenizer": "solutions",
        "batches": "solutions",
        "estimates": "solutions",
        "optimizer": "torch",
        "schedule": "lab",
        "clipping": "torch",
        "sampling": "solutions",
    }


def test_kata_14s_schedule_runs_over_the_steps_of_the_run():
    s = presets.override(presets.get("cpu"), max_steps=100, warmup_steps=10)
    schedule = kit.cosine_schedule(cosine_lr)

    for step in (0, 5, 10, 50, 99, 100, 150):
        expected = cosine_lr(step, s.learning_rate, s.min_lr, 10, 100)
        assert schedule(step, step / 100, s) == pytest.approx(expected), step


def test_on_a_time_budget_kata_14s_schedule_runs_over_the_steps_it_is_on_course_for():
    s = presets.get("modern")  # 85 s
    schedule = kit.cosine_schedule(cosine_lr)

    # 400 steps in a quarter of the time: on course for 1,600 steps
    assert schedule(400, 0.25, s) == pytest.approx(
        cosine_lr(400, s.learning_rate, s.min_lr, s.warmup_steps, 1600)
    )
    assert schedule(900, 1.0, s) == s.min_lr  # the budget is spent


def test_torchs_sampling_is_the_argmax_at_temperature_0_and_refuses_top_k():
    logits = torch.tensor([[0.0, 3.0, 1.0], [2.0, 0.0, -1.0]])

    assert kit.torch_sample_next(logits, 0.0).tolist() == [[1], [0]]
    generator = torch.Generator().manual_seed(0)
    drawn = kit.torch_sample_next(logits, 1.0, generator=generator)
    assert drawn.shape == (2, 1) and drawn.dtype == torch.long
    with pytest.raises(ValueError, match="kata 13"):
        kit.torch_sample_next(logits, 1.0, top_k=2)


def test_a_row_of_the_table_says_whose_code_runs_and_why():
    yours = kit.Part("tokenizer", "tokenizer", "exercises", "exercises/tokenizer.py")
    theirs = kit.Part("optimizer", "optim", "torch", "torch.optim.AdamW", "kata 14 not done")

    assert yours.line(9) == "  tokenizer: yours (kata 1, exercises/tokenizer.py)"
    assert theirs.line(9) == "  optimizer: torch.optim.AdamW (kata 14 not done)"


def test_each_model_of_mine_follows_its_presets_recipe_in_fp32():
    for name, model in mine.MODELS.items():
        settings, recipe = mine.settings(name), presets.get(model.recipe)
        assert settings.precision == "fp32"
        assert (settings.n_layer, settings.max_steps, settings.learning_rate) == (
            recipe.n_layer,
            recipe.max_steps,
            recipe.learning_rate,
        )
    assert (
        mine.settings("gpt").attention == "teaching" and mine.settings("fused").attention == "fused"
    )
    assert mine.settings("modern").model == "modern" and math.isfinite(
        mine.settings("modern").max_seconds
    )


@pytest.mark.parametrize(
    "flags, problem",
    [
        (["--preset", "cpu"], "drop --preset"),
        (["--model", "bigram"], "drop --model"),
        (["--attention", "fused"], "drop --attention"),
        (["--tokenizer", "bpe"], "trains on characters"),
    ],
)
def test_flags_that_choose_what_mine_chooses_are_one_line(flags, problem, capsys):
    assert train.main(["--mine", *flags]) == 1
    assert problem in capsys.readouterr().err


def test_mine_trains_into_runs_mine_with_its_recipe():
    command = train.parse(["--mine", "fused", "--max-steps", "7"])

    assert (command.preset, command.mine) == ("mine", "fused")
    assert command.settings == presets.override(mine.settings("fused"), max_steps=7)
