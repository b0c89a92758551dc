"""How fast the suite gives feedback, as multiples of `python -c "import torch"`.

A learner reruns the tests all day, so the budget is relative to the one cost no test
can avoid, starting Python with torch: the whole kata suite against the solutions
within 10x, one kata within 3x (pytest's own start-up included). Run `make speed`;
it prints the figures side by side and writes runs/speed.json. The budget is checked
here, by measurement, and never by timed assertions inside the tests.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from gptkata import paths
from gptkata.kata import manifest

SUITE_BUDGET, KATA_BUDGET = 10.0, 3.0


def wall(command: list[str], repeats: int) -> float:
    """The median wall time of `command` over `repeats` runs."""
    env = dict(os.environ, GPTKATA_IMPL="solutions", GPTKATA_CHAIN="reference")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=paths.ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeats: int = 5) -> int:
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    baseline = wall([sys.executable, "-c", "import torch"], repeats)
    rows = [("whole kata suite", wall([*pytest, str(paths.KATA_TESTS)], repeats), SUITE_BUDGET)]
    for kata in manifest.KATAS:
        rows.append(
            (
                f"kata {kata.number} {kata.name}",
                wall([*pytest, str(kata.test_file)], repeats),
                KATA_BUDGET,
            )
        )
    print(f"python -c 'import torch': {baseline:.2f} s (median of {repeats})")
    print(f"{'what':<26}{'seconds':>9}{'x torch':>9}{'budget':>8}")
    report = {"import_torch_seconds": baseline, "runs": []}
    worst = True
    for name, seconds, budget in rows:
        ratio = seconds / baseline
        ok = ratio <= budget
        worst = worst and ok
        print(f"{name:<26}{seconds:>9.2f}{ratio:>9.1f}{budget:>7.0f}x {'ok' if ok else 'OVER'}")
        report["runs"].append({"what": name, "seconds": seconds, "ratio": ratio, "budget": budget})
    paths.RUNS.mkdir(exist_ok=True)
    (paths.RUNS / "speed.json").write_text(json.dumps(report, indent=1))
    return 0 if worst else 1


if __name__ == "__main__":
    sys.exit(main())
