"""Which earlier characters each character attends to: the attention weights of a
trained GPT, layer by layer and head by head.

This is the `wei` of the averaging kata, learned. There every row spread its weight
evenly over the past; here each head of kata 6 computes its own weights from the
data, `softmax(mask(q @ k^T / sqrt(head_size)))`, and a trained model's heads look
for different things: the previous character, the start of the word, the last
newline...

The model computes `wei` inside each head and throws it away, so it is recomputed
here from the head's own `query` and `key` layers, exactly as the head does:

    x = token embedding + position embedding           (1, T, n_embd)
    for every block:
        h = block.ln1(x)                                the block's attention input
        for every head of block.sa.heads:
            wei = causal_softmax(query(h) @ key(h)^T * head_size ** -0.5)   (1, T, T)
        x = block(x)                                    on to the next block

Row t of a head's `wei` is a probability distribution over the characters 0..t.
The masked softmax is written out here (the averaging kata's `causal_softmax`), so
the map draws any of the katas' GPTs - the reference's or the learner's own - without
running more of their code than their own layers.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    """The softmax of each row of `scores` (..., T, T) over the positions 0..t only."""
    T = scores.shape[-1]
    future = torch.ones(T, T, dtype=torch.bool, device=scores.device).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)


def attention_weights(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """The attention weights of every head for one sequence of ids `idx` (1, T):
    a tensor (n_layer, n_head, T, T) whose [l, h, t] row sums to 1 over 0..t.

    Needs the katas' GPT (blocks of `ln1` and `sa.heads`, or kata 10's `sa.c_attn`); T may not exceed its
    block_size. Anything else is a ValueError.
    """
    blocks = getattr(model, "blocks", None)
    known = ("heads", "c_attn")  # kata 9's list of heads, kata 10's fused projection
    if blocks is None or not all(
        hasattr(b, "ln1") and any(hasattr(b.sa, name) for name in known) for b in blocks
    ):
        raise ValueError(
            f"attention maps need the katas' GPT with its heads; this model is a "
            f"{type(model).__name__}"
        )
    if idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError(f"idx must be one sequence of shape (1, T), got {tuple(idx.shape)}")
    T = idx.shape[1]
    if T > model.config.block_size:
        raise ValueError(f"{T} characters are more than block_size {model.config.block_size}")
    was_training = model.training
    model.eval()  # no dropout: the weights the model uses when it writes
    try:
        with torch.no_grad():
            positions = torch.arange(T, device=idx.device)
            x = model.token_embedding_table(idx) + model.position_embedding_table(positions)
            layers = []
            for block in blocks:
                h = block.ln1(x)  # (1, T, n_embd)
                layers.append(head_weights(block.sa, h))  # (n_head, T, T)
                x = block(x)
            return torch.stack(layers).float().cpu()  # (n_layer, n_head, T, T)
    finally:
        model.train(was_training)


def head_weights(sa: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Every head's weights (n_head, T, T) for one block's attention input h (1, T, n_embd):
    the teaching heads one by one, or kata 10's fused projection split into heads."""
    if hasattr(sa, "heads"):
        heads = []
        for head in sa.heads:
            scores = head.query(h) @ head.key(h).transpose(-2, -1)  # (1, T, T)
            heads.append(causal_softmax(scores * head.head_size**-0.5)[0])  # (T, T)
        return torch.stack(heads)
    q, k, _ = sa.c_attn(h).split(sa.n_embd, dim=2)  # (1, T, n_embd) each
    q, k = sa.split_heads(q), sa.split_heads(k)  # (1, n_head, T, head_size)
    scores = q @ k.transpose(-2, -1) * (sa.n_embd // sa.n_head) ** -0.5  # (1, n_head, T, T)
    return causal_softmax(scores)[0]
