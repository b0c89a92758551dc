"""The lab: training and sampling real models built from the reference solutions, or
from the learner's own katas (`make train MINE=1`; the benchmarks that measure them
live outside the package, in benchmarks/).

    train.py        `make train`: its command line, every setting of a preset a flag
    trainer.py      sets a run up and sees it through
    run_state.py    what a run holds: Setup (fixed) and Progress (changing)
    loop.py         one optimisation step, the loss estimates, the loop
    resume.py       what a checkpoint remembers to continue a run exactly
    report.py       the announcement, and the sample, pictures and log at the end
    presets.py      the named settings (bigram, cpu, nanogpt, modern, lecture)
    models.py       builds a model from a preset; optim.py the optimiser and schedule
    kit.py          whose code each part of a run is: the reference's, torch's, the learner's
    mine.py         MINE=1: the learner's kit, the katas it needs done, its table and notes
    checkpoint.py   the checkpoint file: safe loading, checksums, every entry checked
    sizes.py        a model's size before it exists: its description checked, its memory
    rundir.py       the output folder: locked, never overwritten, cleared of unfinished writes
    machine.py, distributed.py
                    the device, threads, precision, and data-parallel processes
    cpu.py          what the CPU can do: AVX2, AVX-512, bf16 units, and caps on PyTorch
    attention_paths.py
                    the fused attention's kernel (SDPA or a batched masked softmax), timed
    sample.py, plots.py, attention_map.py
                    `make sample`, the loss curve and the attention heatmap

A newcomer starts with train.py, then trainer.py and loop.py. May import: the shared modules in
gptkata/ (paths, data, outputs), the harness's kata selection (gptkata.kata.select) to
load the katas' modules - the reference solutions, or the learner's exercises - and,
for MINE=1, the harness's verdict on which katas are done (gptkata.kata.cache,
progress, results) and the learner's line of an error (gptkata.kata.blame). Only
attention_paths.py imports a reference solution directly; a student edition leaves it
out. Nothing in gptkata.kata imports from here.
"""
