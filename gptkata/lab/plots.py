"""The pictures of a run, as PNG files: the loss curve and the attention heatmaps.

Drawn with matplotlib's object interface (a `Figure` of its own, no pyplot), so
nothing needs a display and nothing is shared between plots. Files are written
atomically like every output of a run.
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from gptkata.outputs import write_atomically

# How invisible characters appear on the axes of a heatmap.
VISIBLE = {"\n": "↵", " ": "␣", "\t": "→"}


def save_png(figure: Figure, path: Path) -> Path:
    return write_atomically(path, lambda f: figure.savefig(f, format="png", dpi=110))


def loss_curve(path: Path, step_losses: list[float], evals: list[dict], title: str) -> Path:
    """Training loss of every step (faint) and the estimated train and val losses
    (`evals`: dicts with step, train, val) against the step."""
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.add_subplot()
    ax.plot(range(1, len(step_losses) + 1), step_losses, color="tab:blue", alpha=0.25, lw=0.8,
            label="batch loss")  # fmt: skip
    steps = [e["step"] for e in evals]
    ax.plot(steps, [e["train"] for e in evals], "o-", color="tab:blue", label="train (estimate)")
    ax.plot(steps, [e["val"] for e in evals], "o-", color="tab:orange", label="val (estimate)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_png(figure, path)


def attention_heatmap(path: Path, weights: torch.Tensor, text: str, title: str) -> Path:
    """One heatmap per layer (rows) and head (columns) of `weights` (n_layer, n_head, T, T):
    row t shows how much character t of `text` attends to each character before it."""
    n_layer, n_head, T, _ = weights.shape
    labels = [VISIBLE.get(ch, ch) for ch in text]
    size = max(2.2, 0.16 * T)
    figure = Figure(figsize=(size * n_head, size * n_layer + 0.6), layout="constrained")
    figure.suptitle(title)
    axes = figure.subplots(n_layer, n_head, squeeze=False)
    for layer in range(n_layer):
        for head in range(n_head):
            ax = axes[layer][head]
            ax.imshow(weights[layer, head].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=8)
            ax.set_xticks(range(T), labels, fontsize=6, family="monospace")
            ax.set_yticks(range(T), labels, fontsize=6, family="monospace")
            ax.tick_params(length=0)
            ax.set_xlabel("attends to", fontsize=7)
            ax.set_ylabel("character", fontsize=7)
    return save_png(figure, path)
