"""A checkpoint from anywhere: refused for carrying code with the real reason, and
checked field by field before a model is built, even when its checksum is valid.

Findings 8 and 9 of the second hardening pass (numbered as in its issue).
"""

from __future__ import annotations

import math
import os

import pytest
import torch

from gptkata.lab import checkpoint, sample, sizes
from tests.lab.training_run import run_train, write_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The checkpoint of a tiny GPT trained for a few steps."""
    root = tmp_path_factory.mktemp("trust")
    out = root / "run"
    assert run_train(write_corpus(root / "data"), out, "--max-steps", "3") == 0
    return out / checkpoint.FILENAME


def one_line_error(capsys, prefix: str) -> str:
    error = capsys.readouterr().err
    assert error.startswith(prefix) and error.count("\n") == 1, error
    return error


# ------------------------------------------------------------ 8. code in a checkpoint


# The functions a pickle can ask to call on load, as the GLOBAL it names: each runs code.
# Only posix.system's refusal came without torch's advice; exec and eval (probe) came
# with "add_safe_globals([exec])", which would let the code run.
RUNS_CODE = {
    "builtins.exec": lambda marker: (exec, (f"open({str(marker)!r}, 'w').close()",)),
    "builtins.eval": lambda marker: (eval, (f"open({str(marker)!r}, 'w').close()",)),
    f"{os.system.__module__}.system": lambda marker: (os.system, (f"touch {marker}",)),
}


@pytest.mark.parametrize("global_name", sorted(RUNS_CODE))
def test_a_checkpoint_carrying_code_is_refused_naming_the_global_and_never_the_unsafe_fix(
    global_name, tmp_path, trained, capsys
):
    marker = tmp_path / "the-code-ran"

    class Payload:
        def __reduce__(self):  # pickles as GLOBAL <global_name>, called on load
            return RUNS_CODE[global_name](marker)

    evil = tmp_path / "ckpt.pt"
    torch.save({**checkpoint.load(trained), "payload": Payload()}, evil)
    assert sample.main(["--checkpoint", str(evil), "--device", "cpu"]) == 1
    error = one_line_error(capsys, "make sample: ")
    assert f"{evil} was refused by the weights-only load because it asks to run code" in error
    assert f"the global {global_name}" in error and "pickled objects or code" in error
    for advice in ("safe_globals", "allowlist", "weights_only", "False", "trust"):
        assert advice not in error  # torch's advice, dropped
    assert not marker.exists()


# ------------------------------------------ 9. plain data, a valid checksum, nonsense


def gpt_entry(saved: dict, **changes) -> dict:
    return {**saved, "spec": {**saved["spec"], **changes}}


def crafted(saved: dict, case: str) -> dict:
    """A checkpoint with one thing wrong (its checksum is computed when it is saved)."""
    if case == "no dropout":
        return {**saved, "spec": {k: v for k, v in saved["spec"].items() if k != "dropout"}}
    if case == "n_layer a string":
        return gpt_entry(saved, n_layer="1")
    if case == "block_size 10**9":
        return gpt_entry(saved, block_size=10**9, n_embd=128, n_head=2)
    if case == "n_layer 10**6":
        return gpt_entry(saved, n_layer=10**6)
    if case == "another width":
        return gpt_entry(saved, n_embd=32)
    if case == "vocab of another size":
        return {**saved, "vocab": saved["vocab"][:-1]}
    if case == "weights of half precision":
        return {**saved, "model": {k: v.half() for k, v in saved["model"].items()}}
    if case == "a negative step":
        return {**saved, "step": -1}
    if case == "nan seconds":
        return {**saved, "elapsed_seconds": float("nan")}
    if case == "not a model":
        return {**saved, "spec": "gpt"}
    if case in ("nan weights", "inf weights"):
        broken = saved["model"]["lm_head.weight"].clone()
        broken[0, 0] = float("nan" if case == "nan weights" else "-inf")
        return {**saved, "model": {**saved["model"], "lm_head.weight": broken}}
    if case == "evals of another shape":
        return {**saved, "history": {**saved["history"], "evals": [{"bogus": 1}]}}
    if case == "a step loss that is text":
        return {**saved, "history": {**saved["history"], "step_losses": [2.5, "2.4"]}}
    raise AssertionError(case)


CASES = {
    "no dropout": "dropout is missing",
    "n_layer a string": "n_layer must be a whole number of at least 1, got '1'",
    "block_size 10**9": "parameters) needs about 512 GB, and cpu has 16.0 GB available",
    "n_layer 10**6": "n_layer must be at most 1024",
    "another width": "its weights do not fit its model description: token_embedding_table",
    "vocab of another size": "characters but the model",
    "weights of half precision": "is torch.float16 instead of torch.float32",
    "a negative step": "its step is -1, not a whole number of 0 or more",
    "nan seconds": "its elapsed_seconds is nan",
    "not a model": "the model description is a str, not a dict",
    # probe: these were a RuntimeError traceback (sampling) and a TypeError (resuming)
    "nan weights": "its weights are not all finite numbers (lm_head.weight holds nan or inf)",
    "inf weights": "its weights are not all finite numbers (lm_head.weight holds nan or inf)",
    "evals of another shape": "its history.evals[0] has no step",
    "a step loss that is text": "its history.step_losses[1] is '2.4', not a number",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_crafted_checkpoint_is_a_one_line_refusal_before_anything_is_built(
    case, trained, tmp_path, capsys, monkeypatch
):
    # 16 GB free, whatever this machine has: the size estimate decides, not the machine
    monkeypatch.setattr(sizes, "available_bytes", lambda device: 16 * 10**9)
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path, crafted(checkpoint.load(trained), case))
    assert sample.main(["--checkpoint", str(path), "--device", "cpu"]) == 1
    error = one_line_error(capsys, "make sample: ")
    assert f"{path} cannot be used: " in error and CASES[case] in error


def test_resuming_a_crafted_optimizer_state_is_a_one_line_refusal(trained, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    saved = checkpoint.load(trained)
    state = saved["optimizer"]["state"]
    state[0] = {**state[0], "exp_avg": torch.zeros(3)}  # the embedding's average, misshapen
    checkpoint.save(out / checkpoint.FILENAME, saved)
    corpus = write_corpus(tmp_path / "data")
    assert run_train(corpus, out, "--resume", "--max-steps", "5") == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"make train: {out / checkpoint.FILENAME} cannot be resumed: ")
    assert "its optimizer's exp_avg is (3,) for a parameter of shape" in error


def test_the_parameter_count_is_exact_before_a_model_exists():
    from gptkata.lab.models import build_model, count_parameters

    for spec in (
        {"model": "bigram", "vocab_size": 65},
        {"model": "gpt", "attention": "teaching", "vocab_size": 65, "n_layer": 6, "n_head": 6,
         "n_embd": 384, "block_size": 256, "dropout": 0.2},
        {"model": "gpt", "attention": "fused", "vocab_size": 11, "n_layer": 2, "n_head": 2,
         "n_embd": 8, "block_size": 5, "dropout": 0.0},
    ):  # fmt: skip
        assert sizes.parameter_count(spec) == count_parameters(build_model(spec)), spec


@pytest.mark.parametrize(
    "case", ["nan weights", "inf weights", "evals of another shape", "nan optimizer state"]
)
def test_resuming_a_checkpoint_of_broken_numbers_is_a_one_line_refusal_never_called_good(
    case, trained, tmp_path, capsys
):
    # probe: a NaN checkpoint resumed into "the loss became nan ...; the last good
    # checkpoint ... is intact", and a history of another shape into a traceback
    out = tmp_path / "run"
    out.mkdir()
    saved = checkpoint.load(trained)
    if case == "nan optimizer state":
        state = saved["optimizer"]["state"]
        state[0] = {**state[0], "exp_avg_sq": torch.full_like(state[0]["exp_avg_sq"], math.nan)}
    else:
        saved = crafted(saved, case)
    path = out / checkpoint.FILENAME
    checkpoint.save(path, saved)
    corpus = write_corpus(tmp_path / "data")
    assert run_train(corpus, out, "--resume", "--max-steps", "5") == 1
    error = one_line_error(capsys, "make train: ")
    assert str(path) in error and "good" not in error
    mentions = {
        "nan optimizer state": "its optimizer's exp_avg_sq holds nan or inf",
        "evals of another shape": "its history.evals[0] has no step",
    }.get(case, "its weights are not all finite numbers (lm_head.weight holds nan or inf)")
    assert mentions in error
