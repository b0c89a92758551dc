"""The benchmarks: how fast the katas' models train and generate on this machine, and
how the trainer's presets compare. None of it is needed to train or sample; each
command measures the package gptkata/ and the reference solutions from outside.

    bench.py        `make bench`: speed figures, side by side, each case in a fresh
                    process (bench_cases.py measures, bench_report.py reports;
                    bench_lecture.py the machine and the lecture-size rows,
                    bench_bpe.py kata 12's tokenizer, sliding_cache.py the modern
                    model's sliding cache)
    bench_modern.py `python -m benchmarks.bench_modern`: only the sliding cache's row
    bench_nanogpt.py
                    `make bench-nanogpt`: the cpu preset against nanoGPT's CPU recipe
    versus.py       `python -m benchmarks.versus` (or `make bench ARGS=--versus`): the
                    cpu and modern presets trained one after the other, compared
    measure.py      how they measure: the best of a few repeats, memory, and the CPU
                    time other processes took meanwhile
    tables.py       how they report: ratios, verdicts against the goals, tables

A newcomer starts with bench.py. May import: anything in gptkata/ and the reference
solutions; nothing in gptkata/ imports from here. Imports go one way, from the
commands down to measure.py and tables.py (tests/tooling/test_wings.py checks for
circles).
"""
