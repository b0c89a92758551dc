"""Checkpoints: plain data only, written atomically, verified when read."""

from __future__ import annotations

import pytest
import torch

from gptkata import outputs
from gptkata.lab import checkpoint
from solutions.bigram import BigramLanguageModel


def small_checkpoint(seed: int = 0) -> dict:
    """The checkpoint of a bigram model over "ab" after one optimiser step."""
    generator = torch.Generator().manual_seed(seed)
    model = BigramLanguageModel(2)
    optimizer = torch.optim.AdamW(model.parameters())
    ids = torch.randint(2, (4, 3), generator=generator)
    model(ids, ids)[1].backward()
    optimizer.step()
    return {
        "format": checkpoint.FORMAT,
        "spec": {"model": "bigram", "vocab_size": 2},
        "vocab": "ab",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": 3 + seed,
        "elapsed_seconds": 1.5,
        "tokens": 96,
        "settings": {"seed": seed, "device": "auto", "compile": False},
        "rng": [{"batches": generator.get_state(), "torch": torch.get_rng_state(), "cuda": None}],
        "history": {"evals": [{"step": 0, "train": 4.1, "val": 4.2}], "step_losses": [4.1, 3.9]},
    }


def test_a_checkpoint_round_trips_and_loads_with_weights_only(tmp_path):
    path = tmp_path / "ckpt.pt"
    original = small_checkpoint()
    checkpoint.save(path, original)

    plain = torch.load(path, weights_only=True)  # no pickled code needed to read it
    loaded = checkpoint.load(path)
    assert loaded.keys() == plain.keys() == {*checkpoint.CONTENTS, "checksum"}
    for name, tensor in original["model"].items():
        assert torch.equal(loaded["model"][name], tensor)
    state = loaded["optimizer"]["state"][0]
    assert torch.equal(state["exp_avg"], original["optimizer"]["state"][0]["exp_avg"])
    assert torch.equal(loaded["rng"][0]["batches"], original["rng"][0]["batches"])
    for name in ("spec", "vocab", "step", "elapsed_seconds", "tokens", "settings", "history"):
        assert loaded[name] == original[name], name


def test_a_crash_mid_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path, small_checkpoint(seed=0))
    before = path.read_bytes()

    def crash_halfway(obj, f):
        f.write(b"PK\x03\x04 the first bytes of a zip, then the power goes out")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, small_checkpoint(seed=1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 3


def test_write_atomically_replaces_the_file_only_when_complete(tmp_path):
    target = tmp_path / "log.json"
    outputs.write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        outputs.write_atomically(target, lambda f: (f.write(b"{"), int("half")))
    assert target.read_text() == '{\n "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


def test_loading_never_runs_pickled_code(tmp_path):
    marker = tmp_path / "the-code-ran"

    class Trap:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    path = tmp_path / "ckpt.pt"
    torch.save({**small_checkpoint(), "trap": Trap()}, path)
    with pytest.raises(checkpoint.CheckpointError) as error:
        checkpoint.load(path)
    assert "refused by the weights-only load" in str(error.value)
    assert "\n" not in str(error.value)
    assert not marker.exists()


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path, small_checkpoint())
    blob = path.read_bytes()
    for length in (0, 10, len(blob) // 2, len(blob) - 1):
        path.write_bytes(blob[:length])
        with pytest.raises(checkpoint.CheckpointError) as error:
            checkpoint.load(path)
        message = str(error.value)
        assert str(path) in message and "\n" not in message
        assert "truncated or corrupted" in message or "refused" in message


def test_a_changed_weight_fails_the_checksum(tmp_path):
    path = tmp_path / "ckpt.pt"
    saved = small_checkpoint()
    checkpoint.save(path, saved)
    blob = path.read_bytes()
    weight = saved["model"]["token_embedding_table.weight"].numpy().tobytes()
    at = blob.index(weight)
    path.write_bytes(blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1 :])
    with pytest.raises(checkpoint.CheckpointError, match="is corrupted"):
        checkpoint.load(path)


def test_other_files_are_not_checkpoints(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(checkpoint.CheckpointError, match="not a GPT Kata checkpoint"):
        checkpoint.load(path)
    with pytest.raises(checkpoint.CheckpointError, match="there is no checkpoint at"):
        checkpoint.load(tmp_path / "missing.pt")
    incomplete = {k: v for k, v in small_checkpoint().items() if k != "optimizer"}
    torch.save({**incomplete, "checksum": "0"}, path)
    with pytest.raises(checkpoint.CheckpointError, match="has no optimizer"):
        checkpoint.load(path)


def test_compatibility_names_every_field_that_differs():
    saved = small_checkpoint()
    saved["spec"] = {"model": "gpt", "attention": "teaching", "vocab_size": 2, "n_layer": 4}
    saved["spec"].update(n_head=4, n_embd=128, block_size=64, dropout=0.0)
    same = {**saved["spec"], "dropout": 0.2}  # dropout is not a shape
    checkpoint.check_compatible("ckpt.pt", saved, same, "ab")
    other = {**saved["spec"], "n_head": 8, "block_size": 32}
    with pytest.raises(checkpoint.CheckpointError) as error:
        checkpoint.check_compatible("ckpt.pt", saved, other, "abc")
    message = str(error.value)
    assert "n_head is 4 there but 8 here" in message
    assert "block_size is 64 there but 32 here" in message
    assert "vocab has 2 characters there and 3 here" in message
    assert "n_layer" not in message and "n_embd" not in message
