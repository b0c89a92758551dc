"""The GPTs that the gpt kata's tests (test_gpt.py) are built from, and what those
tests compare with or look at: the parameter count, the best loss a bigram gets, the
ids each call of the model was given."""

import functools

import torch
from torch.nn import functional as F

from gptkata.kata.select import Lazy, implementation

gpt = Lazy(implementation, "gpt")
LECTURE_PARAMETERS = 10_788_929  # the lecture prints "10.788929 M parameters"
SMALL = dict(vocab_size=65, block_size=8, n_embd=16, n_head=2, n_layer=2, dropout=0.0)


def parameter_count(vocab_size, block_size, n_embd, n_layer, **_):
    """The size of a GPT, counted from its parts (n = n_embd, V = vocab_size)."""
    n, V = n_embd, vocab_size
    embeddings = V * n + block_size * n
    blocks = n_layer * (12 * n * n + 10 * n)  # attention 4n^2 + n, MLP 8n^2 + 5n, 2 LayerNorms
    return embeddings + blocks + 2 * n + (n * V + V)  # + final LayerNorm + head


# Seeds the CPU generator that initialises layers: torch.manual_seed would also queue
# seeds for every accelerator, which costs milliseconds per call inside a test.
def make_model(seed=0, **changes):
    torch.default_generator.manual_seed(seed)
    return gpt.GPTLanguageModel(gpt.GPTConfig(**{**SMALL, **changes}))


@functools.cache
def lecture_model():
    """The lecture's model, GPTConfig() with its defaults, in eval mode: built once,
    as building 10.8M parameters takes a moment. Tests only read it."""
    torch.default_generator.manual_seed(1337)
    return gpt.GPTLanguageModel(gpt.GPTConfig()).eval()


def small_model():
    """A small model (SMALL) in eval mode."""
    return make_model().eval()


def inputs_seen(model) -> list[torch.Tensor]:
    """The list that gets a copy of the ids of every later call model(idx): the model's
    forward is wrapped, as model(idx) calls it, to record its input."""
    seen = []
    forward = model.forward

    def recording_forward(idx, targets=None):
        seen.append(idx.clone())
        return forward(idx, targets)

    model.forward = recording_forward
    return seen


def sampled_by_hand(model, prompt: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """`prompt` (B, T) extended by n ids drawn as generate draws them, step by step: the
    model's logits at the last of the last block_size ids, a softmax over the
    vocabulary, one torch.multinomial draw per row from a generator seeded with seed."""
    ids, g = prompt, torch.Generator().manual_seed(seed)
    for _ in range(n):
        logits, _ = model(ids[:, -model.config.block_size :])
        probs = F.softmax(logits[:, -1, :], dim=-1)  # (B, V): one distribution per row
        ids = torch.cat((ids, torch.multinomial(probs, 1, generator=g)), dim=1)
    return ids


def bigram_val_loss(train: torch.Tensor, val: torch.Tensor, vocab_size: int = 65) -> float:
    """The best a bigram fitted to the training text does on the validation text: the
    mean negative log-likelihood of val under the next-character counts of train, plus
    one so that no pair has probability 0."""
    V = vocab_size
    counts = torch.bincount(train[:-1] * V + train[1:], minlength=V * V).view(V, V) + 1.0
    log_probs = (counts / counts.sum(dim=1, keepdim=True)).log().view(-1)
    return -log_probs[val[:-1] * V + val[1:]].mean().item()
