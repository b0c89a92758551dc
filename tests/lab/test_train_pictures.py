"""The pictures: the attention weights behind the heatmap, and valid PNG files."""

from __future__ import annotations

import matplotlib.image
import pytest
import torch

from gptkata.lab import plots
from gptkata.lab.attention_map import attention_weights
from solutions.bigram import BigramLanguageModel
from solutions.gpt import GPTConfig, GPTLanguageModel
from tests.lab.training_run import is_png


def random_gpt(seed: int = 0) -> GPTLanguageModel:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=11, block_size=8, n_embd=12, n_head=3, n_layer=2, dropout=0.0)
    model = GPTLanguageModel(config)
    for parameter in model.parameters():  # larger weights than the initialisation's,
        torch.nn.init.normal_(parameter, std=0.5)  # so the heads attend unevenly
    return model


def test_the_weights_are_the_ones_each_head_uses():
    model = random_gpt()
    idx = torch.randint(11, (1, 7), generator=torch.Generator().manual_seed(1))
    weights = attention_weights(model, idx)
    assert weights.shape == (2, 3, 7, 7)

    # Replay the model block by block: each head's output must be its weights times
    # its values. 1e-5: float32 rounding of the same sums taken in another order.
    x = model.token_embedding_table(idx) + model.position_embedding_table(torch.arange(7))
    with torch.no_grad():
        for layer, block in enumerate(model.blocks):
            h = block.ln1(x)
            for number, head in enumerate(block.sa.heads):
                replayed = weights[layer, number] @ head.value(h)[0]  # (T, head_size)
                assert torch.allclose(replayed, head(h)[0], atol=1e-5), (layer, number)
            x = block(x)


def test_each_row_is_a_distribution_over_the_past():
    weights = attention_weights(random_gpt(), torch.tensor([[1, 2, 3, 4, 5]]))
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5), atol=1e-6)
    future = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    assert torch.all(weights[..., future] == 0)
    assert weights[..., 1:, :].std() > 0.05  # learned weights, not the plain average


def test_the_model_keeps_its_mode():
    model = random_gpt().train()
    attention_weights(model, torch.tensor([[1, 2]]))
    assert model.training


def test_attention_maps_need_the_katas_gpt():
    with pytest.raises(ValueError, match="attention maps need the katas' GPT"):
        attention_weights(BigramLanguageModel(5), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="more than block_size 8"):
        attention_weights(random_gpt(), torch.zeros(1, 9, dtype=torch.long))


def test_the_heatmap_is_a_png_with_one_panel_per_layer_and_head(tmp_path):
    weights = attention_weights(random_gpt(), torch.tensor([[1, 2, 3, 4]]))
    path = plots.attention_heatmap(tmp_path / "attention.png", weights, "ab\n ", "a title")
    assert is_png(path)
    height, width, _ = matplotlib.image.imread(path).shape
    assert width > height  # 3 heads side by side, 2 layers down


def test_the_loss_curve_is_a_png(tmp_path):
    evals = [{"step": 0, "train": 4.2, "val": 4.2}, {"step": 3, "train": 3.0, "val": 3.1}]
    path = plots.loss_curve(tmp_path / "loss.png", [4.2, 3.8, 3.3], evals, "a title")
    assert is_png(path)
    assert matplotlib.image.imread(path).ndim == 3
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]
