"""The small ModernGPTs, ids and rolling caches that the modern kata's tests
(test_modern.py) are built from, and the parameter count they check against.

The models get weights drawn with std 0.5 instead of 0.02, as in the kv_cache kata:
with tiny weights every next-id distribution is nearly uniform, so a wrong position
or a key that left the window would hide in the noise.
"""

import torch

from gptkata.kata.select import Lazy, implementation

modern = Lazy(implementation, "modern")

VOCAB = 11


def model_for(seed: int, window: int = 3, n_layer: int = 2, dropout: float = 0.0, std=0.5):
    """A small ModernGPT in eval mode; std 0.5 weights (see above)."""
    torch.default_generator.manual_seed(seed)
    config = modern.ModernConfig(
        vocab_size=VOCAB, window=window, n_embd=8, n_head=2, n_layer=n_layer, dropout=dropout
    )
    model = modern.ModernGPT(config).eval()
    if std is not None:
        with torch.no_grad():
            for w in model.parameters():
                w.normal_(0.0, std)
    return model


def ids(B: int, T: int, seed: int) -> torch.Tensor:
    return torch.randint(VOCAB, (B, T), generator=torch.Generator().manual_seed(seed))


def caches_for(model):
    return [modern.RollingKVCache(model.config.window) for _ in model.blocks]


def parameter_count(vocab_size, n_embd, n_layer, **_):
    """The size of a ModernGPT, counted from its parts (n = n_embd, V = vocab_size)."""
    n, V, hidden = n_embd, vocab_size, 8 * n_embd // 3
    block = 4 * n * n + 3 * n * hidden + 2 * n  # attention, SwiGLU, two RMSNorm weights
    return V * n + n_layer * block + n + n * V  # embedding, blocks, final RMSNorm, head
