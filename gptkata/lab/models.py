"""The models the trainer can train, built from a plain description: a *spec*.

A spec is a dict of strings and numbers, for example

    {"model": "gpt", "attention": "teaching", "vocab_size": 65, "n_layer": 4,
     "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0}

A checkpoint stores it next to the weights, so `make sample` rebuilds the model
without knowing how it was trained, and `--resume` can say exactly which sizes of a
checkpoint differ from the ones asked for.

The models themselves are the reference solutions of the katas: the bigram table of
kata 3, the GPT of kata 9, the GPT built from fused attention of kata 10 and the
modern GPT of kata 16. A spec of `make train MINE=1` also says whose code the model
is: {"code": "exercises", "chain": "mine"} builds the learner's own class from
exercises/, on their own earlier katas ("mine") or on the reference's ("reference").
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from gptkata.lab import kit
from gptkata.lab.presets import Preset
from gptkata.lab.sizes import check_spec

# The entries of a spec that decide the shapes of the weights. Two models can share
# weights only if all of these agree; dropout may differ.
SHAPE_FIELDS = ("model", "attention", "vocab_size", "n_layer", "n_head", "n_embd", "block_size")


def model_spec(preset: Preset, vocab_size: int) -> dict:
    """The spec of the model a preset trains on a vocabulary of `vocab_size` characters."""
    if preset.model == "bigram":
        return {"model": "bigram", "vocab_size": vocab_size}
    if preset.model == "modern":
        spec = {"model": "modern", "vocab_size": vocab_size, "n_layer": preset.n_layer}
        spec.update(n_head=preset.n_head, n_embd=preset.n_embd, block_size=preset.block_size)
        spec.update(window=preset.window or preset.block_size, dropout=preset.dropout)
        check_spec(spec)
        return spec
    spec = {
        "model": "gpt",
        "attention": preset.attention,
        "vocab_size": vocab_size,
        "n_layer": preset.n_layer,
        "n_head": preset.n_head,
        "n_embd": preset.n_embd,
        "block_size": preset.block_size,
        "dropout": preset.dropout,
    }
    check_spec(spec)
    return spec


def model_kata(spec: dict) -> str:
    """The kata whose module holds the model of `spec`."""
    if spec["model"] == "gpt":
        return "fast_attention" if spec["attention"] == "fused" else "gpt"
    return spec["model"]  # bigram, modern


def build_model(spec: dict) -> nn.Module:
    """A freshly initialised model for `spec` (checked first: a ValueError naming the
    field that makes no sense), from the folder its "code" names (the reference's)."""
    check_spec(spec)
    code = kit.load(spec.get("code", "solutions"), model_kata(spec), spec.get("chain", "reference"))
    if spec["model"] == "bigram":
        return code.BigramLanguageModel(spec["vocab_size"])
    if spec["model"] == "modern":
        sizes = ("vocab_size", "window", "n_embd", "n_head", "n_layer", "dropout")
        return code.ModernGPT(code.ModernConfig(**{name: spec[name] for name in sizes}))
    config_class = code.gpt.GPTConfig if spec["attention"] == "fused" else code.GPTConfig
    config = config_class(
        vocab_size=spec["vocab_size"],
        block_size=spec["block_size"],
        n_embd=spec["n_embd"],
        n_head=spec["n_head"],
        n_layer=spec["n_layer"],
        dropout=spec["dropout"],
    )
    if spec["attention"] == "fused":
        return code.FusedGPT(config)
    return code.GPTLanguageModel(config)


def state_dict_problems(spec: dict, state_dict: dict) -> list[str]:
    """How `state_dict` does not fit the model of `spec`: missing and unexpected weights,
    and weights of another shape (at most a few of each); [] when it fits.

    The model is built on the "meta" device, where tensors have a shape but no memory,
    so even the description of a huge model costs nothing to check.
    """
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build_model(spec).state_dict().items()}
    problems = []
    missing = [name for name in expected if name not in state_dict]
    unexpected = [name for name in state_dict if name not in expected]
    if missing:
        problems.append(f"no weight {', '.join(missing[:3])}" + (" ..." if missing[3:] else ""))
    if unexpected:
        extra = ", ".join(map(str, unexpected[:3])) + (" ..." if unexpected[3:] else "")
        problems.append(f"weights the model does not have: {extra}")
    for name, shape in expected.items():
        tensor = state_dict.get(name)
        if name in state_dict and not isinstance(tensor, torch.Tensor):
            problems.append(f"{name} is a {type(tensor).__name__}, not a tensor")
        elif name in state_dict and tuple(tensor.shape) != shape:
            problems.append(f"{name} has shape {tuple(tensor.shape)} instead of {shape}")
        elif name in state_dict and tensor.dtype != torch.float32:
            problems.append(f"{name} is {tensor.dtype} instead of torch.float32")
    return problems


def context_length(spec: dict) -> int:
    """How many of the last characters the model looks at: block_size for a GPT, one
    for a bigram model (it only ever reads the current character), and for the modern
    model n_layer * (window - 1) + 1: each layer looks window - 1 characters further
    back, so feeding it more changes nothing."""
    if spec["model"] == "modern":
        return spec["n_layer"] * (spec["window"] - 1) + 1
    return spec.get("block_size", 1)


def scale_residual_init(model: nn.Module, n_layer: int) -> int:
    """GPT-2's initialisation of the layers that write into the residual stream.

    Every block adds two outputs to the residual stream x: the attention's `proj` and
    the feed-forward's last Linear (`sa.proj` and `ffwd.net.2`; `sa.c_proj` in the fused
    GPT of kata 10; `attn.c_proj` and `ffwd.down` in kata 16's). With weights of std 0.02 each addition has about
    the same size, so after n_layer blocks the stream has grown by about
    sqrt(2 n_layer). Shrinking these weights by 1/sqrt(2 n_layer) keeps the stream at
    the size of the embeddings at the start, which lets a higher learning rate train
    smoothly. Returns how many weight matrices were rescaled.
    """
    std = 0.02 / math.sqrt(2 * n_layer)
    scaled = 0
    for name, parameter in model.named_parameters():
        residual = ("sa.proj.weight", "sa.c_proj.weight", "ffwd.net.2.weight")
        if name.endswith((*residual, "attn.c_proj.weight", "ffwd.down.weight")):
            nn.init.normal_(parameter, mean=0.0, std=std)
            scaled += 1
    if scaled != 2 * n_layer:
        raise ValueError(
            f"found {scaled} residual projections instead of {2 * n_layer} "
            "(2 per block): --init-scale-residual only knows the katas' GPTs"
        )
    return scaled


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
