"""The small ModernGPTs, ids and rolling caches that the modern kata's tests
(test_modern.py) are built from, and what those tests compare with or look at: the
parameter count, generate done by hand, the logits of ids fed in pieces, the modes
the modules ran in, every function that takes ids.

The models get weights drawn with std 0.5 instead of 0.02, as in the kv_cache kata:
with tiny weights every next-id distribution is nearly uniform, so a wrong position
or a key that left the window would hide in the noise.

Tolerance: the sliding cache computes the full forward's numbers, grouped
differently (one position at a time, keys in slot order, an explicit mask), so
float32 rounding separates them: at most 4.2e-6 on logits of size ~5 over 300
random models of these sizes (1 to 3 layers, windows 1 to 4, 4 windows long).
ATOL = 1e-4 leaves twenty times that, while the mistakes this kata is about,
measured on the same models, are far larger: a new id turned to its slot instead of
its position changes the logits by 0.5 at the least, a mask one position too wide
by 0.3 at the least. RMSNorm is compared with torch.nn.RMSNorm: NORM_ATOL = 1e-5 on
values of size ~1 (below 1e-6 measured).
"""

import torch
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation

modern = Lazy(implementation, "modern")

VOCAB = 11
ATOL = 1e-4
NORM_ATOL = 1e-5


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


def parameter_shapes(module) -> dict[str, tuple[int, ...]]:
    """{name: shape} of every parameter of `module`."""
    return {name: tuple(w.shape) for name, w in module.named_parameters()}


def rms_norms(dim: int, seed: int):
    """RMSNorm(dim) and torch.nn.RMSNorm(dim, eps=1e-6), both with the same random
    weight drawn from `seed`: two layers that must compute the same function."""
    mine, theirs = modern.RMSNorm(dim), torch.nn.RMSNorm(dim, eps=1e-6)
    with torch.no_grad():
        w = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
        mine.weight.copy_(w)
        theirs.weight.copy_(w)
    return mine, theirs


def numbered_kv(first: int, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values (1, 1, T, 1) of the positions first .. first + T - 1 whose numbers
    are their positions (the values negated), so any slot shows what it holds."""
    t = torch.arange(first, first + T, dtype=torch.float32).view(1, 1, T, 1)
    return t, -t


@torch.no_grad()
def generate_by_hand(model, prompt: torch.Tensor, n: int, generator: torch.Generator):
    """What model.generate(prompt, n, generator) must give: n times, the softmax of the
    last logits of model(the whole sequence so far), one multinomial draw."""
    idx = prompt
    for _ in range(n):
        probs = F.softmax(model(idx)[0][:, -1], dim=-1)
        idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
    return idx


def in_pieces(model, idx: torch.Tensor, cuts: list[int]) -> torch.Tensor:
    """forward_sliding on idx[:, a:b] for each piece between the `cuts`, one set of
    fresh caches throughout, the logits concatenated along the time axis."""
    caches, T = caches_for(model), idx.shape[1]
    with torch.no_grad():
        return torch.cat(
            [
                modern.forward_sliding(model, idx[:, a:b], caches)
                for a, b in zip([0, *cuts], [*cuts, T], strict=True)
            ],
            dim=1,
        )


def modes_during(model, run):
    """`(run(), modes)`: what run() returns, and the training flag of every module of
    the model each time it ran during run()."""
    modes = []
    hooks = [
        m.register_forward_pre_hook(lambda m, _: modes.append(m.training)) for m in model.modules()
    ]
    try:
        return run(), modes
    finally:
        for hook in hooks:
            hook.remove()


def id_takers(model, n: int = 2):
    """Every function of the kata that takes ids, as (the call, with {} where the ids
    go; a function of the ids): the model itself, generate_sliding and model.generate
    for n new ids, and forward_sliding with fresh caches."""
    return (
        ("model({})", model),
        (f"generate_sliding(model, {{}}, {n})", lambda idx: modern.generate_sliding(model, idx, n)),
        (f"model.generate({{}}, {n})", lambda idx: model.generate(idx, n)),
        (
            "forward_sliding(model, {}, caches)",
            lambda idx: modern.forward_sliding(model, idx, caches_for(model)),
        ),
    )
