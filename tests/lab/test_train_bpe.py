"""`make train ARGS="--tokenizer bpe"`: a GPT on BPE tokens, its bits per character, and
`make sample` from it. On the made-up corpus of tests/lab/training_run.py."""

from __future__ import annotations

import math

import pytest
import torch

from gptkata.lab import checkpoint, sample, tokenizers
from tests.lab.training_run import read_log, run_train, write_corpus


@pytest.fixture(scope="module")
def bpe_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bpe")
    corpus = write_corpus(root / "data")
    out = root / "run"
    assert (
        run_train(corpus, out, "--max-steps", "4", "--tokenizer", "bpe", "--vocab-size", "300") == 0
    )
    return corpus, out


def test_the_model_reads_bpe_ids_and_the_log_reports_bits_per_character(bpe_run):
    corpus, out = bpe_run
    log = read_log(out)
    assert log["tokenizer"] == "bpe" and log["vocab_size"] == 300
    assert log["model"]["vocab_size"] == 300
    assert log["val_characters_per_token"] > 1.5  # frequent words became single tokens
    expected = log["val_loss"] / math.log(2) / log["val_characters_per_token"]
    assert math.isclose(log["val_bits_per_character"], expected, rel_tol=1e-9)


def test_the_merges_are_learned_from_the_training_text_only(bpe_run):
    corpus, out = bpe_run
    text = corpus.read_text(encoding="utf-8")
    saved = checkpoint.load(out / checkpoint.FILENAME)
    learned = tokenizers.build("bpe", text[: int(0.9 * len(text))], 300)
    assert saved["vocab"] == learned.vocab and saved["vocab"].startswith("bpe [[")


def test_sampling_decodes_bpe_tokens_back_to_text(bpe_run, capsys):
    _, out = bpe_run
    ckpt = str(out / checkpoint.FILENAME)
    flags = ["--checkpoint", ckpt, "--device", "cpu", "--prompt", "the kata", "--chars", "10"]
    assert sample.main(flags) == 0
    assert capsys.readouterr().out.startswith("the kata")
    assert sample.main([*flags, "--heatmap"]) == 1
    assert "needs a character model" in capsys.readouterr().err


def test_a_character_model_reports_bits_per_character_too(tmp_path):
    corpus = write_corpus(tmp_path / "data")
    assert run_train(corpus, tmp_path / "run", "--max-steps", "2") == 0
    log = read_log(tmp_path / "run")
    assert log["tokenizer"] == "char" and log["val_characters_per_token"] == 1.0
    assert math.isclose(log["val_bits_per_character"], log["val_loss"] / math.log(2))


def test_codecs_round_trip_and_rebuild_from_their_vocab_string():
    text = "the kata model learns, the kata model writes\n" * 5
    for kind in tokenizers.KINDS:
        codec = tokenizers.build(kind, text, 280)
        again = tokenizers.from_vocab(codec.vocab)
        assert again.kind == kind and again.size == codec.size
        assert again.decode(codec.encode(text)) == text
    assert torch.tensor(tokenizers.build("bpe", text, 280).encode(text)).max() < 280
