"""`python -m benchmarks.bench_modern`: only the sliding cache's row of `make bench`.

It takes `make bench`'s flags and runs the two cases of benchmarks.sliding_cache (the
modern GPT's generate against `modern.generate_sliding`), each in a fresh process,
prints their table and writes runs/bench.json with their figures alone:

    .venv/bin/python -m benchmarks.bench_modern --threads 1 --repeats 3
"""

from __future__ import annotations

import sys

from benchmarks import bench, sliding_cache


def main(argv: list[str] | None = None) -> int:
    """Only the sliding cache's cases, with `make bench`'s flags."""
    return bench.main(argv, cases=sliding_cache.CASES)


if __name__ == "__main__":
    sys.exit(main())
