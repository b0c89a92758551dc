"""`make train MINE=1` and `make sample MINE=1`: the learner's own model, on their own katas.

    make train MINE=1                your GPT of kata 9, about 2 minutes on 2 CPU cores
    make train MINE=1 MODEL=fused    your FusedGPT of kata 10
    make train MINE=1 MODEL=modern   your ModernGPT of kata 16
    make sample MINE=1               text from it, drawn by your sample_next of kata 13

The model is always the learner's: its kata must be done. Every other part of the run
(gptkata.lab.kit lists them) is the learner's where its kata is done and the
reference's (or torch's) where it is not, and the run starts with a table that says
which. Whether a kata is done is decided exactly as `make progress` decides it: the
kata's tests, whose results are kept in .gptkata/results/ (gptkata.kata.cache), so a
kata that did not change since the last `make test` or `make progress` is not run
again. A student edition has no reference: there a part whose kata is not done runs
on torch where torch has it (the optimiser, the clipping, plain sampling), and is a
kata the run needs where it does not (the tokenizer, the batches, the estimates).

The model's module builds on earlier katas (kata 9's GPT on the blocks of kata 8, its
heads of katas 6-7 and the masked softmax of kata 5). Where all of those are done it
is built on the learner's own (CHAIN=mine), else on the reference's.

Two problems that the kata's tests cannot see are each reported in one line naming
the kata: a model that trains to nan (gptkata.lab.loop.NotFinite), and a model far
slower than the reference's at the run's sizes (one training step of each, timed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from gptkata.data import read_corpus
from gptkata.kata import cache, manifest, progress, select
from gptkata.kata.results import DONE, KataState, tally
from gptkata.lab import kit, models, optim, presets
from gptkata.lab.kit import Kit, Part
from gptkata.lab.loop import NotFinite
from gptkata.lab.machine import choose_device

NAME = "mine"  # the run's name: it writes into runs/mine/
SLOWER = 3.0  # a model taking more than this many times the reference's step is "far slower"


@dataclass(frozen=True)
class Model:
    """A model the learner can train: its kata, its class, the katas its module builds
    on, and the preset whose recipe (sizes, optimisation, budget) a run of it follows."""

    kata: str
    cls: str
    builds_on: tuple[str, ...]
    recipe: str


MODELS = {
    "gpt": Model(
        "gpt", "GPTLanguageModel", ("averaging", "attention", "multihead", "block"), "nanogpt"
    ),
    "fused": Model(
        "fast_attention", "FusedGPT", ("averaging", "attention", "multihead", "block", "gpt"), "cpu"
    ),
    "modern": Model("modern", "ModernGPT", ("rope",), "modern"),
}
# The parts whose kata a run checks, besides the model's: kata -> what it gives the run.
PART_KATAS = ("tokenizer", "batching", "training", "optim", "sampling")


class NotReady(ValueError):
    """A kata the run needs is not done: one line naming it and `make progress`."""


def settings(model: str) -> presets.Preset:
    """The settings of a MINE=1 run of `model`: its recipe's preset in fp32 (the numbers
    the kata's tests checked), with the model and attention of `model`."""
    chosen = MODELS[model]
    attention = "fused" if model == "fused" else "teaching"
    kind = "modern" if model == "modern" else "gpt"
    base = presets.get(chosen.recipe)
    return presets.override(base, model=kind, attention=attention, precision="fp32")


def states(names: set[str]) -> dict[str, KataState]:
    """`make progress`'s verdict on the katas called `names`: the stored results of the
    unchanged ones, the tests of the others (run now, and stored for next time)."""
    katas = tuple(k for k in manifest.KATAS if k.name in names and k.test_file.is_file())
    try:
        results = cache.results(katas, "reference", progress.run)
    except progress.SuiteError as error:
        raise NotReady(f"the kata tests did not run: {str(error).splitlines()[0]}") from error
    return {state.kata.name: state for state in tally(results, katas)}


def has_reference(kata: str) -> bool:
    return select.provided(kata, "solutions")


def not_done(state: KataState) -> str:
    """'kata 9 (gpt, in progress: 7 of 12 tests pass)'."""
    how = state.state
    if state.state == "in progress":
        how += f": {state.passed} of {state.total} tests pass"
    return f"kata {state.kata.number} ({state.kata.name}, {how})"


def check_needed(needed: list[str], done: dict[str, KataState], doing: str) -> None:
    """A NotReady naming every kata in `needed` that is not done; `doing` is what the
    command does ("trains")."""
    missing = [not_done(done[name]) for name in needed if done[name].state != DONE]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise NotReady(
            f"MINE=1 {doing} your own model, and {' and '.join(missing)} {verb} not done yet: "
            "make progress shows what is left"
        )


def file_of(kata: str) -> str:
    return select.impl_file(manifest.get(kata).module, "exercises")


def why_not(kata: str) -> str:
    return f"kata {manifest.get(kata).number} not done"


def learner_or_reference(name: str, kata: str, done: dict, builds_on=()) -> tuple:
    """(module, Part) of one part: the learner's module where `kata` is done (built on
    their own earlier katas where those in `builds_on` are done too), else the reference's."""
    if done[kata].state == DONE:
        chain = "mine" if all(done[k].state == DONE for k in builds_on) else "reference"
        return kit.load("exercises", kata, chain), Part(name, kata, "exercises", file_of(kata))
    module = kit.load("solutions", kata)
    return module, Part(
        name, kata, "solutions", f"solutions/{manifest.get(kata).module}.py", why_not(kata)
    )


def optimiser_parts(done: dict) -> dict[str, tuple]:
    """{kit field: (code, Part)} of the optimiser, the schedule and the clipping: kata
    14's where it is done, else torch's AdamW and clipping and the lab's schedule."""
    if done["optim"].state == DONE:
        code, file = kit.load("exercises", "optim"), file_of("optim")
        chosen = {
            "make_optimizer": ("optimizer", kit.adamw(code.AdamW), f"{file} AdamW"),
            "schedule": ("schedule", kit.cosine_schedule(code.cosine_lr), f"{file} cosine_lr"),
            "clip_grad_norm": ("clipping", code.clip_grad_norm, f"{file} clip_grad_norm"),
        }
        return {
            field: (function, Part(name, "optim", "exercises", shown))
            for field, (name, function, shown) in chosen.items()
        }
    why = why_not("optim")
    clip = torch.nn.utils.clip_grad_norm_
    return {
        "make_optimizer": (
            optim.make_optimizer,
            Part("optimizer", "optim", "torch", "torch.optim.AdamW", why),
        ),
        "schedule": (
            kit.lab_schedule,
            Part("schedule", "optim", "lab", "the lab's warmup and cosine", why),
        ),
        "clip_grad_norm": (
            clip,
            Part("clipping", "optim", "torch", "torch.nn.utils.clip_grad_norm_", why),
        ),
    }


def sampling_part(done: dict) -> tuple:
    """sample_next and its Part: kata 13's where done, the reference's, or torch's."""
    if done["sampling"].state == DONE or has_reference("sampling"):
        module, part = learner_or_reference("sampling", "sampling", done)
        return module.sample_next, part
    why = f"{why_not('sampling')}: no --top-k, --top-p"
    return kit.torch_sample_next, Part("sampling", "sampling", "torch", "torch.multinomial", why)


def model_part(model: str, done: dict) -> tuple[dict, Part]:
    """What a spec adds for the learner's `model` ({"code", "chain"}) and its Part."""
    chosen = MODELS[model]
    waiting = [manifest.get(k) for k in chosen.builds_on if done[k].state != DONE]
    names = ", ".join(f"{k.number} {k.name}" for k in waiting)
    if not waiting:
        chain, note = "mine", "on your own earlier katas"
    elif all(has_reference(k) for k in chosen.builds_on):
        chain, note = "reference", f"on the reference's earlier katas (not done: {names})"
    else:  # a student edition: the harness builds on the learner's own, done or not
        chain, note = "reference", f"on your own earlier katas (not done: {names})"
    code = f"{file_of(chosen.kata)} {chosen.cls}, {note}"
    return {"code": "exercises", "chain": chain}, Part("model", chosen.kata, "exercises", code)


def training_kit(model: str) -> Kit:
    """The learner's kit for training `model` (a key of MODELS), after checking the
    katas it needs: a NotReady naming those that are not done."""
    chosen = MODELS[model]
    done = states({*PART_KATAS, chosen.kata, *chosen.builds_on})
    needed = [k for k in ("tokenizer", "batching", "training") if not has_reference(k)]
    check_needed([*needed, chosen.kata], done, "trains")
    tokenizer, tokenizer_part = learner_or_reference("tokenizer", "tokenizer", done)
    batching, batches_part = learner_or_reference("batches", "batching", done)
    training, estimates_part = learner_or_reference("estimates", "training", done, ("batching",))
    optimiser = optimiser_parts(done)
    sample_next, sampling = sampling_part(done)
    spec, model_entry = model_part(model, done)
    parts = (tokenizer_part, batches_part, model_entry, estimates_part)
    parts += tuple(part for _, part in optimiser.values()) + (sampling,)
    return Kit(
        tokenizer=tokenizer,
        sample_next=sample_next,
        get_batch=batching.get_batch,
        estimate_loss=training.estimate_loss,
        model=spec,
        parts=parts,
        **{name: code for name, (code, _) in optimiser.items()},
    )


def sampling_kit(spec: dict) -> Kit:
    """The learner's kit for sampling the model of a checkpoint's `spec`: their tokenizer
    and sampling where done, after checking the katas it needs (a NotReady otherwise).
    The model is rebuilt as it was trained, on the earlier katas its spec names."""
    if spec.get("code") != "exercises":
        raise ValueError(
            "MINE=1 samples your own model, and this checkpoint holds the reference's: "
            "make train MINE=1 trains yours into runs/mine/"
        )
    chosen = MODELS[model_of(spec)]
    done = states({"tokenizer", "sampling", chosen.kata})
    needed = [] if has_reference("tokenizer") else ["tokenizer"]
    check_needed([*needed, chosen.kata], done, "samples")
    tokenizer, tokenizer_part = learner_or_reference("tokenizer", "tokenizer", done)
    sample_next, sampling = sampling_part(done)
    earlier = "your own" if spec.get("chain") == "mine" else "the reference's"
    code = f"{file_of(chosen.kata)} {chosen.cls}, on {earlier} earlier katas"
    parts = (tokenizer_part, Part("model", chosen.kata, "exercises", code), sampling)
    return Kit(tokenizer=tokenizer, sample_next=sample_next, parts=parts)


def model_of(spec: dict) -> str:
    """The key of MODELS for a checkpoint's spec; a ValueError for a model no kata of
    the learner's makes (the bigram table)."""
    if spec["model"] == "modern":
        return "modern"
    if spec["model"] == "gpt":
        return "fused" if spec["attention"] == "fused" else "gpt"
    raise ValueError("MINE=1 samples your GPT; this checkpoint holds a bigram table")


def table(parts: Kit, command: str) -> str:
    """The short table of whose code runs for each part, printed before the run."""
    width = max(len(part.name) for part in parts.parts)
    lines = [f"{command}: whose code runs"] + [part.line(width) for part in parts.parts]
    return "\n".join(lines)


def step_seconds(built: list[torch.nn.Module], vocab_size: int, s: presets.Preset, device) -> list:
    """Seconds of one training step (forward and backward) of each model of `built`: the
    best of a few, the models taking turns so that other work on the machine slows
    them alike."""
    x = torch.randint(vocab_size, (s.batch_size, s.block_size), device=device)
    best = [float("inf")] * len(built)
    for turn in range(3):  # the first warms up
        for i, model in enumerate(built):
            model.to(device).train()
            started = time.perf_counter()
            _, loss = model(x, x)
            loss.backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if turn:
                best[i] = min(best[i], time.perf_counter() - started)
    return best


def speed_note(spec: dict, s: presets.Preset) -> str | None:
    """One line when the learner's model takes more than SLOWER times the reference's
    training step at the run's sizes; None otherwise, or where there is no reference."""
    kata = models.model_kata(spec)
    if not has_reference(kata):
        return None
    device = choose_device(s.device)
    reference_spec = {k: v for k, v in spec.items() if k not in ("code", "chain")}
    with torch.random.fork_rng(devices=[]):  # the run's random numbers stay untouched
        built = [models.build_model(spec), models.build_model(reference_spec)]
        yours, theirs = step_seconds(built, spec["vocab_size"], s, device)
    if yours <= SLOWER * theirs:
        return None
    number = manifest.get(kata).number
    return (
        f"note: your model (kata {number}, {kata}: {file_of(kata)}) takes {yours * 1e3:.0f} ms "
        f"per training step, {yours / theirs:.1f} times the reference's {theirs * 1e3:.0f} ms "
        "at these sizes, so this run takes that much longer than the reference's would"
    )


def vocab_size(data_dir) -> int:
    """The characters of the corpus: the vocabulary a character model gets."""
    return len(set(read_corpus(data_dir)))


def not_finite_line(error: NotFinite, parts: Kit) -> str:
    """A run that trained to nan or inf, in one line naming the learner's kata."""
    model = next(part for part in parts.parts if part.name == "model")
    number = manifest.get(model.kata).number
    also = ""
    if any(p.name == "optimizer" and p.implementation == "exercises" for p in parts.parts):
        also = ", or in your AdamW (kata 14, optim), which this run uses too"
    return (
        f"your model (kata {number}, {model.kata}: {file_of(model.kata)}) passes its tests but "
        f"trained to nan or inf by step {error.step}: look for an exp, a log or a division "
        f"in its forward that can overflow{also} ({error})"
    )
