"""How fast the suite gives feedback, as multiples of `python -c "import torch"`.

A learner reruns the tests all day, so the budget is relative to the one cost no test
can avoid, starting Python with torch: the whole kata suite against the solutions
within 10x, one kata within 3x (pytest's own start-up included). Two more kinds of
row time the learner's loop, in a scratch copy whose exercises are solved:

  watch, save to verdict   a save of the kata's file until watch has its verdict:
                           the quiet time after a save (watch.QUIET_SECONDS) plus a
                           check in fresh children of the warm process; goal 1.0 s
                           whatever the machine, with its ratio shown beside it
  progress                 `make progress` with nothing changed (every result from
                           the cache: within 1.5x) and after a save of one kata's
                           file (that kata runs again: within 3x)

Run `make speed`; it prints the figures side by side and writes runs/speed.json. The
budget is checked here, by measurement, and never by timed assertions inside the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gptkata import paths
from gptkata.kata import checks, manifest

SUITE_BUDGET, KATA_BUDGET, PROGRESS_BUDGET = 10.0, 3.0, 1.5  # x `import torch`
WATCH_SECONDS = 1.0  # watch's goal is a time a learner feels, not a ratio


def wall(command: list[str], repeats: int, cwd: Path | None = None, env=None) -> float:
    """The median wall time of `command` over `repeats` runs."""
    env = env or dict(os.environ, GPTKATA_IMPL="solutions", GPTKATA_CHAIN="reference")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd or paths.ROOT, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _solved_copy(folder: Path) -> Path:
    """A scratch copy of the repository whose exercises are the solutions."""
    root = checks.scratch_copy(folder / "repo")
    for kata in manifest.KATAS:
        shutil.copy2(kata.solution_file, root / "exercises" / f"{kata.module}.py")
    return root


def _save(root: Path, kata: manifest.Kata, count: int) -> None:
    """What an editor's save does to the kata's file: new content."""
    with open(root / "exercises" / f"{kata.module}.py", "a") as f:
        f.write(f"\n# save {count}\n")


def watch_worker(repeats: int) -> dict[str, float]:
    """In a solved copy (the current directory): for each kata, the median time from
    a save of its file to watch's verdict on it."""
    from gptkata.kata import warm, watch

    warm.warm_up()
    medians = {}
    for kata in manifest.KATAS:
        times = []
        for count in range(repeats):
            _save(paths.ROOT, kata, count)
            start = time.perf_counter()
            warm.check((kata,), "reference")
            times.append(time.perf_counter() - start + watch.QUIET_SECONDS)
        medians[kata.name] = statistics.median(times)
    return medians


def learner_loop(repeats: int) -> tuple[dict[str, float], float, float]:
    """Watch's save-to-verdict per kata, and `make progress` with nothing changed and
    after one save, each the median of `repeats` runs in a solved scratch copy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPTKATA_")}
    env["HYPOTHESIS_PROFILE"] = "fast"
    with tempfile.TemporaryDirectory(prefix="gptkata-speed-") as folder:
        root = _solved_copy(Path(folder))
        worker = [sys.executable, "-m", "gptkata.kata.speed", "--watch-worker", str(repeats)]
        done = subprocess.run(worker, cwd=root, env=env, capture_output=True, text=True)
        watch = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
        progress = [sys.executable, "-m", "gptkata", "progress"]
        subprocess.run(progress, cwd=root, env=env, capture_output=True)  # fills the cache
        unchanged = wall(progress, repeats, cwd=root, env=env)
        saved = []
        for count in range(repeats):
            _save(root, manifest.get("averaging"), 100 + count)
            saved.append(wall(progress, 1, cwd=root, env=env))
    return watch, unchanged, statistics.median(saved)


def main(repeats: int = 5) -> int:
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    baseline = wall([sys.executable, "-c", "import torch"], repeats)
    rows = [
        ("whole kata suite", wall([*pytest, str(paths.KATA_TESTS)], repeats), SUITE_BUDGET, "x")
    ]
    for kata in manifest.KATAS:
        rows.append(
            (
                f"kata {kata.number} {kata.name}",
                wall([*pytest, str(kata.test_file)], repeats),
                KATA_BUDGET,
                "x",
            )
        )
    watch, unchanged, saved = learner_loop(repeats)
    for kata in manifest.KATAS:
        seconds = watch.get(kata.name, float("nan"))
        rows.append((f"watch {kata.number} {kata.name}", seconds, WATCH_SECONDS, "s"))
    rows.append(("progress, nothing changed", unchanged, PROGRESS_BUDGET, "x"))
    rows.append(("progress, one kata saved", saved, KATA_BUDGET, "x"))
    print(f"python -c 'import torch': {baseline:.2f} s (median of {repeats})")
    print(f"{'what':<28}{'seconds':>9}{'x torch':>9}{'budget':>8}")
    report = {"import_torch_seconds": baseline, "runs": []}
    worst = True
    for name, seconds, budget, unit in rows:  # unit: "x" torch's import, or "s" seconds
        ratio = seconds / baseline
        ok = (ratio if unit == "x" else seconds) <= budget
        worst = worst and ok
        shown = f"{budget:>7.2f}x" if unit == "x" else f"{budget:>6.2f} s"
        print(f"{name:<28}{seconds:>9.2f}{ratio:>9.2f}{shown} {'ok' if ok else 'OVER'}")
        entry = {"what": name, "seconds": seconds, "ratio": ratio}
        entry["budget" if unit == "x" else "budget_seconds"] = budget
        report["runs"].append(entry)
    paths.RUNS.mkdir(exist_ok=True)
    (paths.RUNS / "speed.json").write_text(json.dumps(report, indent=1))
    return 0 if worst else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--watch-worker"]:
        print(json.dumps(watch_worker(int(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
