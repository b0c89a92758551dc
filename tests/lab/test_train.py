"""`make train`: the presets, the flags, the outputs, resuming, and bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from gptkata.lab import checkpoint, machine, optim, presets, report, rundir, train
from gptkata.lab.models import build_model, model_spec
from tests.lab.training_run import TINY, is_png, read_log, run_train, write_corpus


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "data")


def last_line(text: str) -> str:
    """The error line, after the progress bar of an earlier run."""
    return text.strip().splitlines()[-1]


def file_bytes(folder):
    """{name: bytes} of every file in `folder` (hidden ones too, but not the lock file,
    which every run takes, and which holds nothing)."""
    files = (p for p in sorted(folder.iterdir()) if p.is_file() and p.name != rundir.LOCK)
    return {p.name: p.read_bytes() for p in files}


# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize("preset", sorted(presets.PRESETS))
def test_every_preset_trains_a_few_steps_on_a_tiny_config(preset, corpus, tmp_path):
    out = tmp_path / "run"
    # the lecture preset compiles by default: a few steps do not pay for a compilation
    assert run_train(corpus, out, "--max-steps", "5", "--no-compile", preset=preset) == 0
    log = read_log(out)
    for name in ("ckpt.pt", "log.json", "loss.png", "sample.txt"):
        assert (out / name).is_file(), name
    assert is_png(out / "loss.png")
    assert (out / "attention.png").exists() == (log["model"]["model"] == "gpt")
    assert log["preset"] == preset
    assert log["settings"]["model"] == presets.get(preset).model
    assert log["settings"]["dropout"] == presets.get(preset).dropout  # the preset's own value
    assert log["steps"] == 5 and log["stopped_by"] == "max_steps"
    assert len(log["history"]["step_losses"]) == 5
    assert [e["step"] for e in log["history"]["evals"]] == [0, 3, 5]
    for key in ("train_loss", "val_loss", "wall_seconds", "tokens_per_second"):
        assert isinstance(log[key], float) and math.isfinite(log[key]) and log[key] > 0, key
    assert log["final_eval_batches"] == 3
    assert log["tokens"] == 5 * 4 * 8
    assert (out / "sample.txt").read_text(encoding="utf-8") == log["sample"]
    assert len(log["sample"]) == 1 + 24  # the newline prompt and 24 characters


def test_the_lecture_preset_is_the_lectures_model():
    lecture = presets.get("lecture")
    model = build_model(model_spec(lecture, vocab_size=65))
    assert sum(p.numel() for p in model.parameters()) == 10_788_929
    assert (lecture.max_steps, lecture.learning_rate, lecture.dropout) == (5000, 3e-4, 0.2)


def test_the_nanogpt_preset_is_nanogpts_cpu_recipe():
    recipe = presets.get("nanogpt")
    assert (recipe.n_layer, recipe.n_head, recipe.n_embd, recipe.block_size) == (4, 4, 128, 64)
    assert (recipe.batch_size, recipe.max_steps, recipe.dropout) == (12, 2000, 0.0)
    assert recipe.precision == "fp32", "nanoGPT trains in float32 on a CPU"


def test_the_cpu_preset_stops_on_fewer_steps_than_nanogpt_and_estimates_on_as_much_text():
    cpu, recipe = presets.get("cpu"), presets.get("nanogpt")
    assert cpu.max_steps < recipe.max_steps and cpu.max_seconds == math.inf
    sequences = cpu.final_eval_iters * (cpu.eval_batch_size or cpu.batch_size)
    assert sequences >= recipe.final_eval_iters * (recipe.eval_batch_size or recipe.batch_size)
    assert cpu.final_eval_iters <= 20, "few, large batches: the final estimate costs seconds"


# ----------------------------------------------------------------------------- flags


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for flag in ("--preset", "--out", "--resume", "--overwrite", "--data-dir"):
        assert flag in text
    for setting in presets.settings():
        assert "--" + setting.name.replace("_", "-") in text, setting.name
        assert " ".join(setting.metadata["help"].split()) in text, setting.name


def test_every_preset_value_can_be_overridden_by_a_flag():
    base = presets.get("cpu")
    argv, wanted = [], {}
    for setting in presets.settings():
        flag = "--" + setting.name.replace("_", "-")
        value = getattr(base, setting.name)
        if isinstance(value, bool):
            wanted[setting.name] = not value
            argv.append(flag if not value else "--no-" + flag[2:])
        elif setting.metadata["choices"]:
            other = next(c for c in setting.metadata["choices"] if c != value)
            wanted[setting.name] = other
            argv += [flag, other]
        elif setting.name in presets.BELOW_ONE:  # dropout, beta1, beta2: in [0, 1)
            wanted[setting.name] = value / 2
            argv += [flag, str(wanted[setting.name])]
        else:
            wanted[setting.name] = value + 1
            argv += [flag, str(wanted[setting.name])]
    command = train.parse(["--preset", "cpu", *argv])
    assert dataclasses.asdict(command.settings) == {**dataclasses.asdict(base), **wanted}


def test_flags_not_given_keep_the_presets_values():
    command = train.parse(["--preset", "lecture", "--max-steps", "7"])
    assert command.settings == dataclasses.replace(presets.get("lecture"), max_steps=7)
    assert command.out is None and not command.resume


def test_an_unknown_preset_is_an_error_listing_the_presets(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--preset", "huge"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "'huge'" in error
    for name in presets.PRESETS:
        assert name in error


@pytest.mark.parametrize(
    "flags, mentions",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--dropout", "1"], "--dropout must be in [0, 1)"),
        (["--learning-rate", "0"], "--learning-rate must be above 0"),
        (["--n-embd", "30", "--n-head", "4"], "n_embd=30 must be divisible by n_head=4"),
    ],
)
def test_settings_that_make_no_sense_are_one_line_errors(flags, mentions, corpus, tmp_path, capsys):
    assert run_train(corpus, tmp_path / "run", *flags, tiny=False) == 1
    assert mentions in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- bad input


def test_a_missing_corpus_says_how_to_install_it(tmp_path, capsys):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    code = train.main(["--data-dir", str(empty), "--out", str(tmp_path / "run"), *TINY])
    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith("make train: ") and "make data" in error
    assert not (tmp_path / "run").exists()


def test_an_output_directory_that_cannot_be_written_is_a_clear_error(corpus, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert run_train(corpus, blocker / "run") == 1
    error = capsys.readouterr().err
    assert "cannot write to the output directory" in error and str(blocker / "run") in error
    assert blocker.read_text() == "not a directory"


def test_resume_without_a_checkpoint_says_so(corpus, tmp_path, capsys):
    assert run_train(corpus, tmp_path / "run", "--resume") == 1
    assert "there is no checkpoint at" in capsys.readouterr().err


def test_resuming_a_finished_run_says_how_to_train_further(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(corpus, out, "--max-steps", "2") == 0
    capsys.readouterr()
    assert run_train(corpus, out, "--max-steps", "2", "--resume") == 0
    printed = capsys.readouterr().out
    assert "the run already reached --max-steps 2" in printed
    assert 'make train ARGS="--resume --max-steps 4"' in printed
    assert "nats per token" in printed, "the loss names its unit"
    assert 'make train PRESET=nanogpt ARGS="--resume' in report.finished_note("nanogpt", 9, 9)
    assert report.finished_note("cpu", 8, 9) == "", "a run with steps left says nothing"


def test_resume_refuses_a_checkpoint_of_another_model_naming_the_fields(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(corpus, out, "--max-steps", "2") == 0
    before = file_bytes(out)
    assert run_train(corpus, out, "--resume", "--n-layer", "2", "--n-embd", "32") == 1
    error = last_line(capsys.readouterr().err)
    assert "holds another model" in error
    assert "n_layer is 1 there but 2 here" in error and "n_embd is 16 there but 32 here" in error
    assert "n_head" not in error  # only the fields that differ
    assert file_bytes(out) == before


@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_damaged_checkpoint_is_a_clear_error_and_nothing_is_overwritten(
    damage, corpus, tmp_path, capsys
):
    out = tmp_path / "run"
    assert run_train(corpus, out, "--max-steps", "2") == 0
    ckpt = out / checkpoint.FILENAME
    blob = ckpt.read_bytes()
    if damage == "truncated":
        ckpt.write_bytes(blob[: len(blob) // 2])
    else:  # inside a weight's data, where torch.load itself notices nothing
        weight = checkpoint.load(ckpt)["model"]["lm_head.weight"].numpy().tobytes()
        at = blob.index(weight) + len(weight) // 2
        ckpt.write_bytes(blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1 :])
    before = file_bytes(out)
    assert run_train(corpus, out, "--resume", "--max-steps", "4") == 1
    error = last_line(capsys.readouterr().err)
    assert error.startswith("make train: ") and str(ckpt) in error
    assert "truncated or corrupted" in error or "is corrupted" in error
    assert file_bytes(out) == before


# ----------------------------------------------------------------------------- resume


def test_resume_equals_an_uninterrupted_run_step_for_step(corpus, tmp_path):
    schedule = ("--decay-steps", "8", "--dropout", "0.1", "--seed", "5")  # dropout: RNG state
    schedule += ("--attention-path", "sdpa")  # timed choices may differ between fresh runs
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    assert run_train(corpus, whole, "--max-steps", "8", *schedule) == 0
    assert run_train(corpus, pieces, "--max-steps", "4", *schedule) == 0
    assert run_train(corpus, pieces, "--max-steps", "8", "--resume", *schedule) == 0

    uninterrupted, resumed = read_log(whole), read_log(pieces)
    assert resumed["resumed_from_step"] == 4
    assert resumed["history"]["step_losses"] == uninterrupted["history"]["step_losses"]
    assert resumed["val_loss"] == uninterrupted["val_loss"]
    assert resumed["steps"] == 8 and resumed["tokens"] == uninterrupted["tokens"]
    a = checkpoint.load(whole / checkpoint.FILENAME)
    b = checkpoint.load(pieces / checkpoint.FILENAME)
    for name, weight in a["model"].items():
        assert torch.equal(weight, b["model"][name]), name
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for index, state in a["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg"], b["optimizer"]["state"][index]["exp_avg"])


def test_a_time_budget_stops_the_run(corpus, tmp_path):
    out = tmp_path / "run"
    assert run_train(corpus, out, "--max-steps", "1000000", "--max-seconds", "0.5") == 0
    log = read_log(out)
    assert log["stopped_by"] == "max_seconds"
    assert 0 < log["steps"] < 1_000_000 and log["wall_seconds"] >= 0.5


def test_the_fused_attention_flag_trains_the_fused_gpt(corpus, tmp_path):
    out = tmp_path / "run"
    assert run_train(corpus, out, "--max-steps", "3", "--attention", "fused") == 0
    saved = checkpoint.load(out / checkpoint.FILENAME)
    assert saved["spec"]["attention"] == "fused"
    assert any(".sa.c_attn." in name for name in saved["model"])


# ----------------------------------------------------------------------------- pieces


def test_the_learning_rate_warms_up_then_follows_a_cosine_to_the_minimum():
    def lr(step, progress):
        return optim.learning_rate(step, progress, peak=1.0, minimum=0.1, warmup_steps=10)

    assert lr(0, 0.0) == pytest.approx(0.1)  # 1/10 of the way up
    assert lr(9, 0.0) == pytest.approx(1.0)
    assert lr(50, 0.5) == pytest.approx(0.55)  # halfway down the cosine
    assert lr(99, 1.0) == pytest.approx(0.1)
    assert lr(500, 3.0) == pytest.approx(0.1)  # after the decay: the minimum
    rates = [lr(s, s / 100) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_weight_decay_applies_to_matrices_only():
    model = build_model(model_spec(presets.get("cpu"), vocab_size=20))
    decayed, plain = optim.parameter_groups(model, weight_decay=0.1)
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])  # biases and LayerNorm weights
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_the_device_is_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert machine.choose_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert machine.choose_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert machine.choose_device("auto", local_rank=1) == torch.device("cuda", 1)


def test_bf16_autocast_is_for_hardware_with_bf16_units_unless_asked_for(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n")
    assert machine.cpu_has_bf16_units(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu sse avx2\n")
    assert not machine.cpu_has_bf16_units(cpuinfo)
    assert not machine.cpu_has_bf16_units(tmp_path / "no-such-file")

    cpu = torch.device("cpu")
    for has_units in (True, False):
        monkeypatch.setattr(machine, "cpu_has_bf16_units", lambda answer=has_units: answer)
        assert machine.use_bf16("auto", cpu) == has_units
        assert machine.use_bf16("bf16", cpu) and not machine.use_bf16("fp32", cpu)
    assert not machine.use_bf16("auto", torch.device("mps"))


def test_compile_passes_the_model_through_torch_compile(corpus, tmp_path, monkeypatch):
    compiled = []

    def record(model):  # a real compilation takes far longer than this test may
        compiled.append(type(model).__name__)
        return model

    monkeypatch.setattr(torch, "compile", record)
    assert run_train(corpus, tmp_path / "run", "--max-steps", "2", "--compile") == 0
    assert compiled == ["FusedGPT"]  # the cpu preset trains kata 10's fused GPT


def test_bf16_autocast_trains_on_the_cpu_when_asked_for(corpus, tmp_path):
    out = tmp_path / "run"
    assert run_train(corpus, out, "--max-steps", "3", "--precision", "bf16") == 0
    log = read_log(out)
    assert log["precision"] == "bf16" and math.isfinite(log["val_loss"])
    saved = checkpoint.load(out / checkpoint.FILENAME)
    assert all(w.dtype == torch.float32 for w in saved["model"].values())  # weights stay fp32
